import DevstackDriverKit

extension DriverSet {
    /// Every kind this build of devstack can run.
    public static let standard = DriverSet([
        .process: ProcessDriver(), .postgres: PostgresDriver(), .auth: AuthDriver(), .inference: InferenceDriver(), .pgbouncer: PgBouncerDriver(),
    ])
}
