#if os(macOS)
    import ArgumentParser
    import DevstackSystem

    /// macOS has no setpriv: children are exec'd through this to lead their own process group (hidden).
    struct ExecInGroupCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: SelfInvocation.execInGroupCommand, shouldDisplay: false)

        @Argument(parsing: .captureForPassthrough) var command: [String] = []

        func run() throws { ProcessGroupExec.run(command) }
    }

    extension DevstackCommand {
        static let platformSubcommands: [any ParsableCommand.Type] = [ExecInGroupCommand.self]
    }
#endif
