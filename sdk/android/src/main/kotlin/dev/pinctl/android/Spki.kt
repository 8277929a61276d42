package dev.pinctl.android

import org.bouncycastle.asn1.x509.Certificate
import java.security.cert.X509Certificate

/** SPKI SHA-256 pins (base64), the one rule every pin in pinctl follows. */
object Spki {
    /** The pin of a DER certificate's SubjectPublicKeyInfo, or null when it does not parse. */
    fun pinOfCertificateDer(der: ByteArray): String? = try {
        val spki = Certificate.getInstance(der).subjectPublicKeyInfo.getEncoded("DER")
        Codec.base64(Codec.sha256(spki))
    } catch (e: Exception) {
        null
    }

    fun pinOf(cert: X509Certificate): String =
        pinOfCertificateDer(cert.encoded) ?: Codec.base64(Codec.sha256(cert.publicKey.encoded))
}
