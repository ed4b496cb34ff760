#if os(Linux)
    import ArgumentParser

    /// Linux needs no hidden helper command: setpriv does what `__exec-in-group` does on macOS.
    extension DevstackCommand {
        static let platformSubcommands: [any ParsableCommand.Type] = []
    }
#endif
