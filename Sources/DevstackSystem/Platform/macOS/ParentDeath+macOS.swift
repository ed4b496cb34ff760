#if os(macOS)
    import Foundation

    /// macOS has no parent-death signal: `__exec-in-group` puts the child in its own process group,
    /// and the guardian kills that group when the supervisor goes.
    enum ParentDeath {
        static func wrap(executable: String, arguments: [String], user: String?) -> (String, [String]) {
            let invocation = SelfInvocation.execInGroup(program: executable, arguments: arguments)
            return (invocation.executable, invocation.arguments)
        }
    }

    /// `devstack __exec-in-group -- PROGRAM ARGS…`: leads a new process group, then becomes PROGRAM,
    /// so signals for the group reach everything it starts.
    public enum ProcessGroupExec {
        public static func run(_ arguments: [String]) -> Never {
            let command = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
            guard let program = command.first else { exit(127) }
            setpgid(0, 0)
            let argv = command.map { strdup($0) } + [nil]
            execv(program, argv)
            perror(program)
            exit(127)
        }
    }
#endif
