#if os(macOS)
    import Foundation

    extension SignalListener {
        /// Darwin names the handler's field differently from Glibc.
        static func setHandler(_ action: inout sigaction, _ handler: @convention(c) (Int32) -> Void) {
            action.__sigaction_u.__sa_handler = handler
        }
    }
#endif
