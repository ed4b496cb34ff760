// The default stack's gateway: a small but real API server configured only by the environment devstack wires.
await GatewayMain.run()
