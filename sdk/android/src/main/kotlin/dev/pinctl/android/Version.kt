package dev.pinctl.android

/** The SDK's version, sent as the User-Agent of its downloads and reports. */
const val SDK_VERSION = "0.1.0"
