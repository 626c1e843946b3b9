package com.cobo.oauth

import com.sun.jna.CallbackThreadInitializer
import com.sun.jna.Native

/**
 * Keeps the native threads that resume UniFFI's futures (the core's I/O thread for
 * [AsyncOAuthClient], a pool thread for a renewal) attached to the JVM. By default JNA
 * attaches the thread before each callback and detaches it after, making a
 * java.lang.Thread each time, which cost async round trips a third of their throughput.
 * JNA detaches a kept thread when it exits.
 */
internal object AsyncCallbackThreads {
    init {
        Native.setCallbackThreadInitializer(uniffiRustFutureContinuationCallbackImpl, CallbackThreadInitializer(true, false, "cobo-oauth"))
    }

    /** Runs the initializer above (once), from the constructors of the classes that await futures. */
    fun keepAttached() = Unit
}
