import ArgumentParser
import DevstackSupervisor

/// The process that stops every recorded process group when the supervisor dies (hidden).
struct GuardianCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "__guardian", shouldDisplay: false)

    func run() throws { Guardian.runGuardian() }
}
