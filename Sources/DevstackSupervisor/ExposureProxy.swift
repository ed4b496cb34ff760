import DevstackCore
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Other machines' way in to an exposed service that does not speak TLS itself: devstack listens on
/// the profile's `expose.address` at the service's own port number, with the profile's server
/// certificate, and passes the bytes to the service on loopback. Nothing but TLS is answered there.
final class ExposureProxy: Sendable {
    struct Listener: Sendable {
        let service: String
        let port: Int
    }

    private let channels: [any Channel]

    private init(channels: [any Channel]) { self.channels = channels }

    /// Listens for every port of every exposed service whose kind devstack carries TLS for.
    static func start(_ exposure: PlannedExposure, services: [PlannedService], loopback: String) async throws -> ExposureProxy {
        do {
            // An address the machine does not have would leave Postgres listening on loopback alone, silently.
            try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: exposure.address, port: 0).get().close()
        } catch {
            throw SupervisorError(
                .launchFailed, "cannot listen on \(exposure.address), the profile's expose.address: \(error)",
                fix: "name an address of this machine (see `ip addr` or `ifconfig`): its LAN or Tailscale address")
        }
        let targets = services.filter { exposure.exposes($0.name) && $0.kind.descriptor.exposure == .tlsProxy }
            .flatMap { service in service.ports.map { Listener(service: service.name, port: $0.number) } }
        guard !targets.isEmpty else { return ExposureProxy(channels: []) }
        let context: NIOSSLContext
        do {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(exposure.certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: exposure.keyFile, format: .pem)))
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw SupervisorError(
                .launchFailed, "cannot read the TLS certificate in \(exposure.directory): \(error)",
                fix: "remove \(exposure.directory) and start again: devstack makes a new one (clients must then trust the new ca.pem)")
        }
        var channels: [any Channel] = []
        for target in targets {
            let port = target.port
            let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                        .flatMap {
                            ClientBootstrap(group: channel.eventLoop).channelOption(.allowRemoteHalfClosure, value: true)
                                .connect(host: loopback, port: port)
                        }
                        .flatMapThrowing { upstream in
                            let (inward, outward) = BytePipe.pair()
                            try channel.pipeline.syncOperations.addHandler(inward)
                            try upstream.pipeline.syncOperations.addHandler(outward)
                        }
                }
            do {
                channels.append(try await bootstrap.bind(host: exposure.address, port: port).get())
            } catch {
                for channel in channels { try? await channel.close() }
                throw SupervisorError(
                    .portInUse, "cannot listen on \(exposure.address):\(port) for \(target.service) (exposed): \(error)",
                    fix: "check that \(exposure.address) is an address of this machine, and that \(target.service) listens on "
                        + "\(loopback) only (not on every address)")
            }
        }
        return ExposureProxy(channels: channels)
    }

    func stop() async {
        for channel in channels { try? await channel.close() }
    }
}

/// One end of a pipe between two channels on the same event loop: what one reads the other writes,
/// reading paused while the other cannot take more, and a close on one side closes the other.
private final class BytePipe: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: BytePipe?
    private var context: ChannelHandlerContext?
    private var readPending = false

    static func pair() -> (BytePipe, BytePipe) {
        let first = BytePipe()
        let second = BytePipe()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { partner?.context?.write(data, promise: nil) }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.context?.flush() }

    func channelInactive(context: ChannelHandlerContext) { partner?.context?.close(promise: nil) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { partner?.context?.close(mode: .output, promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.context?.close(promise: nil)
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let partner, partner.readPending {
            partner.readPending = false
            partner.context?.read()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? false {
            context.read()
        } else {
            readPending = true
        }
    }
}
