import ArgumentParser
import DevstackCore
import DevstackPostgres
import DevstackSupervisor
import Foundation

/// Runs the command line and maps each module's errors to its exit status: 2 for configuration, 1 otherwise.
public enum DevstackEntry {
    public static func run() async {
        do {
            var command = try DevstackCommand.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ConfigError {
            Console.standardError.write(error.description + "\n")
            exit(2)
        } catch let error as SupervisorError {
            Console.standardError.write(error.description + "\n")
            exit(error.exitStatus)
        } catch let error as PostgresServiceError {
            Console.standardError.write("error: \(error)\n")
            exit(1)
        } catch {
            DevstackCommand.exit(withError: error)
        }
    }
}

extension SupervisorError {
    /// A service name that is not in the stack is a mistake in the command, like a configuration error.
    var exitStatus: Int32 {
        switch code {
        case .refused: return 3
        case .unknownService: return 2
        default: return 1
        }
    }
}
