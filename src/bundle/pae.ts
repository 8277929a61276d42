/** DSSE pre-authentication encoding (SPEC §1.2): "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
import { concatBytes, utf8Encode } from './bytes.js';

export function pae(payloadType: string, body: Uint8Array): Uint8Array {
  const type = utf8Encode(payloadType);
  return concatBytes(utf8Encode(`DSSEv1 ${type.length} ${payloadType} ${body.length} `), body);
}
