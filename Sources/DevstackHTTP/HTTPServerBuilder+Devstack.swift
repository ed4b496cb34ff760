import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// How long a connection may sit idle, or a request stay unfinished, before the server closes it.
public let defaultIdleTimeout: TimeAmount = .seconds(30)

extension HTTPServerBuilder {
    /// HTTP/1.1 that never leaves a connection hanging: idle connections and unfinished requests time
    /// out, HTTP/1.0 and `Connection: close` requests are closed after their response (their unread
    /// body drained for a moment first, so the client reads the answer instead of a reset), and a
    /// client's half-close ends the connection once the response is out.
    public static func devstack(idleTimeout: TimeAmount = defaultIdleTimeout) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            TidyHTTP1Channel(inner: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: idleTimeout)))
        }
    }
}

/// Hummingbird's HTTP/1 channel, with ``ConnectionTidying`` placed where it still sees HTTP/1 versions.
struct TidyHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    var responder: HTTPChannelHandler.Responder { inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let codec = try channel.pipeline.syncOperations.handler(type: HTTP1ToHTTPServerCodec.self)
            try channel.pipeline.syncOperations.addHandler(ConnectionTidying(), position: .before(codec))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Sits between NIO's HTTP/1 codec and Hummingbird: knows whether each request lets the connection
/// live on, and closes it when it must not, or when the client is done.
final class ConnectionTidying: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// How long a closing connection's unread input is read and dropped.
    static let linger: TimeAmount = .seconds(2)

    /// Requests whose response has not ended yet.
    private var unanswered = 0
    private var closeAfterResponse = false
    private var inputClosed = false
    /// Output shut: whatever still arrives is read and dropped until the client closes or the linger ends.
    private var draining = false
    private var lingerTimer: Scheduled<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if draining {
            context.read()
            return
        }
        if case .head(var head) = unwrapInboundIn(data) {
            unanswered += 1
            if !head.isKeepAlive {
                closeAfterResponse = true
                // Hummingbird ends a connection after a request only when it says `Connection: close`;
                // an HTTP/1.0 request without keep-alive means the same.
                head.headers.replaceOrAdd(name: "connection", value: "close")
                context.fireChannelRead(wrapInboundOut(.head(head)))
                return
            }
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if draining { context.read() } else { context.fireChannelReadComplete() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Whatever garbage follows a closing connection's response is of no interest.
        if draining { return context.close(promise: nil) }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if draining || unanswered == 0 {
                return context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        unanswered = max(0, unanswered - 1)
        guard unanswered == 0, inputClosed || closeAfterResponse else { return context.write(data, promise: promise) }
        // The response is whole: the client has nothing more to say, or must not.
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.cascade(to: promise)
        context.writeAndFlush(data, promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            if self.inputClosed { context.close(promise: nil) } else { self.shutOutput(context) }
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .output else { return context.close(mode: mode, promise: promise) }
        // Hummingbird finishing its side after this handler already shut it.
        if draining { return promise?.succeed() ?? () }
        if inputClosed { return context.close(mode: .all, promise: promise) }
        context.close(mode: .output, promise: promise)
        startDraining(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        lingerTimer?.cancel()
        context.fireChannelInactive()
    }

    private func shutOutput(_ context: ChannelHandlerContext) {
        guard !draining, context.channel.isActive else { return }
        context.close(mode: .output, promise: nil)
        startDraining(context)
    }

    private func startDraining(_ context: ChannelHandlerContext) {
        guard !draining else { return }
        draining = true
        lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) { context.close(promise: nil) }
        context.read()
    }
}
