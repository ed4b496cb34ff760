#if os(Linux)
    /// Children die with the supervisor: `setpriv --pdeathsig KILL` execs the command in place (same
    /// pid), so the kernel kills it if the launching thread goes away. The same setpriv switches user
    /// when asked (it sets the parent-death signal after the switch, which would clear it).
    enum ParentDeath {
        static func wrap(executable: String, arguments: [String], user: String?) -> (String, [String]) {
            let identity = user.map { ["--reuid=\($0)", "--regid=\($0)", "--init-groups"] } ?? []
            return ("/usr/bin/setpriv", identity + ["--pdeathsig", "KILL", "--", executable] + arguments)
        }
    }
#endif
