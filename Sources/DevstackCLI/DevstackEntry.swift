import ArgumentParser
import DevstackCore
import Foundation

/// Runs the command line; every error devstack makes is printed here, with its exit status.
public enum DevstackEntry {
    public static func run() async {
        do {
            var command = try DevstackCommand.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as any DevstackError {
            Console.standardError.write(error.report + "\n")
            exit(error.exitStatus)
        } catch {
            DevstackCommand.exit(withError: error)
        }
    }
}
