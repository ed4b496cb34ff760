import AuthEmulator
import DevstackPostgres
import DevstackSupervisor
import MockInference

/// The service kinds this build of devstack can run.
enum Drivers {
    static let all = DriverSet([.postgres: PostgresDriver(), .auth: AuthDriver(), .inference: InferenceDriver()])
}
