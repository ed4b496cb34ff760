#if os(macOS)
    import ArgumentParser
    import DevstackSupervisor

    /// macOS has no setpriv: children are exec'd through this to lead their own process group (hidden).
    struct ExecInGroupCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "__exec-in-group", shouldDisplay: false)

        @Argument(parsing: .captureForPassthrough) var command: [String] = []

        func run() throws { ProcessGroupExec.run(command) }
    }
#endif
