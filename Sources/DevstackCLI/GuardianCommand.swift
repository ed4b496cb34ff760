import ArgumentParser
import DevstackSupervisor
import DevstackSystem

/// The process that stops every recorded process group when the supervisor dies (hidden).
struct GuardianCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: SelfInvocation.guardianCommand, shouldDisplay: false)

    func run() throws { Guardian.runGuardian() }
}
