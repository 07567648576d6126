package tasklet.net;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * The per-channel state machine: handshake, the one-connection-per-pair decision, then
 * frame dispatch to the {@link Endpoint}, and the single {@code disconnected} report.
 *
 * <pre>
 *   HANDSHAKE ──HELLOs, PROOFs ok──▶ (lower name decides) ─kept──▶ OPEN ──▶ CLOSED
 *       │                         (higher name) AWAIT_VERDICT ─ACCEPT─▶ OPEN
 *       │                          kept, but an older connection to the same peer is
 *       │                          still open: SWITCHING until it has been reported lost
 *       └─ bad proof / bad frame / CLOSE / timeout / dropped as duplicate ──▶ CLOSED
 * </pre>
 *
 * Each side sends HELLO when the channel is up (after TLS). The initiator sends its PROOF
 * on the acceptor's HELLO; the acceptor checks it and only then sends its own PROOF, which
 * the initiator checks (see {@link Handshake} for why the acceptor proves last). Until the
 * peer's PROOF has verified, frames are bounded by {@link Handshake#MAX_FRAME_BYTES} and
 * failures are logged through the transport's rate-limited {@link RefusalLog}; a peer
 * whose name belongs to a live connection of another incarnation is refused (the live one
 * stays), as is any frame out of order. The deciding side then sends ACCEPT (or CLOSE duplicate)
 * before any application frame, so the other side never sees an application frame on a
 * connection it has not been told is kept. Any application frame before OPEN closes the
 * connection; frames that arrive while SWITCHING are held and delivered, in order, right
 * after {@code connected}.
 *
 * <p>{@link #outcome()} completes with the connection once it is OPEN (after
 * {@code connected} returned), or fails with {@link AuthFailedException},
 * {@link DuplicateConnectionException} or another {@link HandshakeException}.
 *
 * <p>Every method runs on the channel's event loop, except {@link #outcome()} (any thread).
 */
final class Session extends ChannelInboundHandlerAdapter {
  private static final System.Logger LOG = System.getLogger("tasklet.net");

  private enum State { NEW, HANDSHAKE, AWAIT_VERDICT, SWITCHING, OPEN, CLOSED }

  private final Transport transport;
  private final Config config;
  private final boolean initiator;       // this side made the TCP connection
  private final FrameDecoder decoder;    // for the truncation reason at close
  private final CompletableFuture<Connection> outcome = new CompletableFuture<>();
  private final byte[] nonce = Handshake.nonce();
  private final Runnable authenticated; // gives back the Admission place, once
  private byte[] ownHello;              // our HELLO payload as sent
  private byte[] peerHello;             // the peer's HELLO payload as received
  private byte[] binding = new byte[0]; // TLS channel binding (empty without TLS)
  private boolean peerProved;           // the peer's PROOF verified
  private State state = State.NEW;
  private Channel ch;
  private ChannelConnection conn;        // from the peer's HELLO on
  private boolean reported;              // endpoint.connected(conn) was called
  private String closeReason;            // before conn exists
  private ScheduledFuture<?> handshakeTimer;
  private Heartbeat heartbeat;
  private ArrayDeque<Frame> held;        // frames arriving while SWITCHING

  Session(Transport transport, boolean initiator, FrameDecoder decoder, Runnable authenticated) {
    this.transport = transport;
    this.config = transport.config();
    this.initiator = initiator;
    this.decoder = decoder;
    this.authenticated = authenticated;
  }

  /** Completes when the connection opens or fails to. Any thread. */
  CompletableFuture<Connection> outcome() {
    return outcome;
  }

  /** The connection once the peer's HELLO arrived, else null. Event loop only. */
  ChannelConnection connection() {
    return conn;
  }

  /** Closes the connection because this node is shutting down. Event loop only. */
  void shutdown(String reason) {
    if (state == State.NEW) {
      ch.close();
    } else {
      fail(new HandshakeException(reason), FrameType.CLOSE_NORMAL, true, Level.DEBUG);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    ch = ctx.channel();
    if (ctx.channel().isActive()) {
      begin(ctx);
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    begin(ctx);
    ctx.fireChannelActive();
  }

  private void begin(ChannelHandlerContext ctx) {
    if (state != State.NEW) {
      return;
    }
    state = State.HANDSHAKE;
    handshakeTimer = ch.eventLoop().schedule(this::handshakeTimedOut,
        config.handshakeTimeoutMs, TimeUnit.MILLISECONDS);
    if (ctx.pipeline().get(SslHandler.class) == null) {
      sendHello();
    } // else after the TLS handshake, in userEventTriggered
  }

  private void sendHello() {
    Handshake.Hello hello = new Handshake.Hello(config.name, config.incarnation,
        transport.address(), nonce);
    ownHello = hello.encode();
    write(FrameType.HELLO, ownHello);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof SslHandshakeCompletionEvent e && state == State.HANDSHAKE) {
      if (e.isSuccess()) {
        binding = Tls.binding(ctx.pipeline().get(SslHandler.class).engine(), initiator);
        sendHello();
      } else {
        fail(new HandshakeException("TLS handshake with " + ch.remoteAddress() + " failed: "
            + e.cause(), e.cause()), FrameType.CLOSE_ERROR, false, Level.WARNING);
      }
    }
    ctx.fireUserEventTriggered(evt);
  }

  private void handshakeTimedOut() {
    if (state.compareTo(State.OPEN) < 0) {
      String who = conn != null ? "node " + LogText.of(conn.peerName())
          : String.valueOf(ch.remoteAddress());
      fail(new HandshakeException("handshake with " + who + " did not finish within "
          + config.handshakeTimeoutMs + " ms"), FrameType.CLOSE_ERROR, true, Level.WARNING);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (conn != null && conn.inbox != null) {
      conn.inbox.readDone();
    }
    State was = state;
    state = State.CLOSED;
    if (handshakeTimer != null) {
      handshakeTimer.cancel(false);
    }
    if (heartbeat != null) {
      heartbeat.stop();
    }
    String reason = conn != null ? conn.closeReason() : closeReason;
    if (reason == null) {
      reason = decoder.truncation() != null ? "connection lost: " + decoder.truncation()
          : "connection closed by peer";
      if (conn != null) {
        conn.lost(reason);
      }
    }
    if (!outcome.isDone()) {
      outcome.completeExceptionally(new HandshakeException("connection to "
          + (conn != null ? "node " + conn.peerName() : ch.remoteAddress())
          + " closed during the handshake (" + reason + ")"));
    }
    if (conn != null) {
      transport.peers().remove(conn);
      conn.fireWritableWaiters();
      ChannelConnection c = conn;
      if (reported) {
        LOG.log(was == State.OPEN ? Level.INFO : Level.DEBUG,
            "tasklet.net: " + config.name + " lost node " + c.peerName() + ": " + reason);
        String why = reason;
        // after every frame received before the loss has been delivered
        c.inbox.finish(() -> {
          try {
            transport.endpoint().disconnected(c, why);
          } finally {
            c.down.complete(null);
          }
        });
      } else {
        c.down.complete(null);
      }
    }
    held = null;
    ctx.fireChannelInactive();
  }

  // ---------------------------------------------------------------- inbound

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Frame f = (Frame) msg; // the FrameDecoder emits nothing else
    switch (state) {
      case HANDSHAKE -> handshakeFrame(f);
      case AWAIT_VERDICT -> verdictFrame(f);
      case SWITCHING -> {
        if (f.type() == FrameType.CLOSE) {
          peerClosed(f);
        } else {
          held.add(f);
        }
      }
      case OPEN -> openFrame(f);
      default -> { } // NEW cannot read; CLOSED drops what is still in flight
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    if (heartbeat != null) {
      heartbeat.touched();
    }
    if (conn != null && conn.inbox != null) {
      conn.inbox.readDone();   // frames this read delivered on the loop
    }
    ctx.fireChannelReadComplete();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (conn != null && ch.isWritable()) {
      conn.fireWritableWaiters();
    }
    ctx.fireChannelWritabilityChanged();
  }

  private void handshakeFrame(Frame f) {
    switch (f.type()) {
      case FrameType.HELLO -> onHello(f.payload());
      case FrameType.PROOF -> {
        if (peerProved) {
          protocolError("second PROOF");
        } else {
          onProof(f.payload());
        }
      }
      case FrameType.CLOSE -> peerClosed(f);
      default -> protocolError(FrameType.name(f.type()) + " frame before the handshake completed");
    }
  }

  private void onHello(byte[] payload) {
    if (conn != null) {
      protocolError("second HELLO");
      return;
    }
    if (ownHello == null) { // the peer spoke first, e.g. before our TLS handshake finished
      protocolError("HELLO before this node's HELLO");
      return;
    }
    Handshake.Hello peer;
    try {
      peer = Handshake.Hello.decode(payload);
    } catch (HandshakeException e) {
      fail(e, FrameType.CLOSE_ERROR, true, Level.WARNING);
      return;
    }
    if (peer.name().equals(config.name)) {
      fail(new NameClashException(peer.name(), ch.remoteAddress()), FrameType.CLOSE_ERROR, true, Level.WARNING);
      return;
    }
    peerHello = payload;
    conn = new ChannelConnection(ch, peer, config.maxFrameBytes, config.handshakeTimeoutMs);
    ChannelConnection existing = initiator ? transport.peers().get(peer.name()) : null;
    if (existing != null && existing.peerIncarnation() == peer.incarnation()) {
      // already connected to this peer: drop this one quietly, connect() returns the other
      fail(new DuplicateConnectionException(peer.name()), FrameType.CLOSE_DUPLICATE, true,
          Level.DEBUG);
      return;
    }
    if (initiator) { // the connecting side proves first; the acceptor waits for it
      if (refuseDuplicateName()) {
        return;
      }
      write(FrameType.PROOF, proof(Handshake.INITIATOR));
    }
  }

  /**
   * Erlang refuses a duplicate name: if a live connection (heard from within two ticks)
   * goes to a node of the peer's name but another incarnation, this one is refused and the
   * live one stays. A restarted node gets in once the old connection is closed or silent.
   * Checked by each side before it proves, so neither side has opened when it refuses.
   */
  private boolean refuseDuplicateName() {
    ChannelConnection live = transport.peers().get(conn.peerName());
    if (live == null || live.peerIncarnation() == conn.peerIncarnation()
        || !live.heardWithin(2 * TimeUnit.MILLISECONDS.toNanos(config.tickMs))) {
      return false;
    }
    fail(new DuplicateConnectionException(conn.peerName(), "node " + LogText.of(conn.peerName())
        + " (incarnation " + conn.peerIncarnation() + ") is refused: a live node of that name"
        + " (incarnation " + live.peerIncarnation() + ") is connected"),
        FrameType.CLOSE_DUPLICATE, true, Level.WARNING);
    return true;
  }

  private byte[] proof(String role) {
    byte[] i = initiator ? ownHello : peerHello;
    byte[] a = initiator ? peerHello : ownHello;
    return Handshake.proof(config.cookie(), role, i, a, binding);
  }

  private void onProof(byte[] proof) {
    if (conn == null) {
      protocolError("PROOF before HELLO");
      return;
    }
    byte[] expected = proof(initiator ? Handshake.ACCEPTOR : Handshake.INITIATOR);
    if (!Handshake.verify(expected, proof)) {
      fail(new AuthFailedException("node " + LogText.of(conn.peerName()) + " at "
          + ch.remoteAddress() + " failed the cookie check: start both nodes with the same"
          + " cookie"), FrameType.CLOSE_AUTH, true, Level.WARNING);
      return;
    }
    peerProved = true;
    authenticated.run();
    decoder.limit(config.maxFrameBytes);
    if (!initiator) {
      if (refuseDuplicateName()) {
        return;
      }
      write(FrameType.PROOF, proof(Handshake.ACCEPTOR));
    }
    if (config.name.compareTo(conn.peerName()) < 0) { // this node decides
      Peers.Claim claim = transport.peers().claim(conn);
      if (claim.rejected()) {
        fail(new DuplicateConnectionException(conn.peerName()), FrameType.CLOSE_DUPLICATE,
            true, Level.DEBUG);
      } else {
        replace(claim.previous());
      }
    } else {
      state = State.AWAIT_VERDICT;
    }
  }

  private void verdictFrame(Frame f) {
    switch (f.type()) {
      case FrameType.ACCEPT -> replace(transport.peers().admit(conn));
      case FrameType.CLOSE -> peerClosed(f);
      default -> protocolError(FrameType.name(f.type()) + " frame before ACCEPT");
    }
  }

  /** Opens now, or once {@code old} (another connection to the peer) is reported lost. */
  private void replace(ChannelConnection old) {
    if (old == null || old.down.isDone()) {
      open();
      return;
    }
    state = State.SWITCHING;
    held = new ArrayDeque<>();
    old.closeWith(FrameType.CLOSE_NORMAL, old.peerIncarnation() != conn.peerIncarnation()
        ? "node " + old.peerName() + " restarted" : "replaced by a newer connection", true);
    old.down.whenComplete((v, e) -> {
      try {
        ch.eventLoop().execute(() -> {
          if (state == State.SWITCHING) {
            open();
          }
        });
      } catch (RejectedExecutionException x) {
        ch.close(); // transport shutting down
      }
    });
  }

  private void open() {
    state = State.OPEN;
    handshakeTimer.cancel(false);
    if (config.name.compareTo(conn.peerName()) < 0) {
      write(FrameType.ACCEPT, new byte[0]); // before anything the endpoint may send
    }
    heartbeat = new Heartbeat(conn, transport.endpoint()::load, config.tickMs,
        config.heartbeatTimeoutMs);
    heartbeat.start();
    conn.inbox = new Inbox(conn, transport.endpoint(), transport.inbound(), config.maxInboundBytes);
    transport.reporting(conn);
    reported = true;
    LOG.log(Level.DEBUG, () -> "tasklet.net: " + config.name + " connected to " + conn);
    try {
      transport.endpoint().connected(conn);
    } catch (Throwable t) {
      LOG.log(Level.ERROR, "tasklet.net: Endpoint.connected threw", t);
    }
    transport.peers().opened(conn);
    outcome.complete(conn);
    ArrayDeque<Frame> early = held;
    held = null;
    if (early != null) {
      for (Frame f : early) {
        if (state != State.OPEN) {
          break;
        }
        openFrame(f);
      }
    }
  }

  private void openFrame(Frame f) {
    int type = f.type();
    if (conn.closeReason() != null) {
      return; // closing on purpose: nothing more is delivered
    }
    if (FrameType.isApp(type)) {
      conn.inbox.add(f);
    } else if (type == FrameType.TICK) {
      conn.peerLoad(Frames.tickLoad(f.payload()));
    } else if (type == FrameType.CLOSE) {
      peerClosed(f);
    } else {
      protocolError("unexpected " + FrameType.name(type) + " frame on an open connection");
    }
  }

  private void peerClosed(Frame f) {
    int code = Frames.closeCode(f.payload());
    String why = LogText.of(Frames.closeReason(f.payload()));
    String reason = "closed by peer: " + why;
    if (state == State.OPEN || state == State.SWITCHING) {
      state = State.CLOSED;
      conn.lost(reason);
      ch.close();
      return;
    }
    String who = conn != null ? "node " + LogText.of(conn.peerName())
        : String.valueOf(ch.remoteAddress());
    HandshakeException e = switch (code) {
      case FrameType.CLOSE_AUTH -> new AuthFailedException(who + " refused this node's cookie"
          + ": start both nodes with the same cookie");
      case FrameType.CLOSE_DUPLICATE -> conn != null
          ? new DuplicateConnectionException(conn.peerName(), who + " refused this connection"
              + " as a duplicate: " + why)
          : new HandshakeException(who + " dropped the connection as a duplicate");
      default -> new HandshakeException(who + " closed the connection during the handshake: "
          + why);
    };
    fail(e, code, false, code == FrameType.CLOSE_DUPLICATE ? Level.DEBUG : Level.WARNING);
  }

  // ---------------------------------------------------------------- failures

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof ClosedChannelException) {
      return; // a send raced with the close; the close is already being reported
    }
    SSLException ssl = sslCause(cause);
    if (ssl != null) {
      fail(new HandshakeException("TLS error with " + ch.remoteAddress() + ": "
          + ssl.getMessage(), ssl), FrameType.CLOSE_ERROR, false, Level.WARNING);
    } else if (cause instanceof DecoderException) {
      protocolError("bad frame: " + cause.getMessage());
    } else if (cause instanceof IOException) {
      fail(new HandshakeException("I/O error: " + cause.getMessage(), cause),
          FrameType.CLOSE_ERROR, false, Level.DEBUG);
    } else {
      LOG.log(Level.WARNING, "tasklet.net: unexpected error on " + ch, cause);
      fail(new HandshakeException("internal error: " + cause, cause), FrameType.CLOSE_ERROR,
          true, Level.DEBUG);
    }
  }

  private void protocolError(String what) {
    fail(new HandshakeException("protocol error: " + what), FrameType.CLOSE_ERROR, true,
        Level.WARNING);
  }

  /**
   * Closes the channel for {@code e} (telling the peer with a CLOSE of {@code code} if
   * {@code tellPeer}), fails the outcome if still pending, and logs at {@code level}.
   */
  private void fail(HandshakeException e, int code, boolean tellPeer, Level level) {
    if (state == State.CLOSED) {
      return;
    }
    boolean unauthenticated = !peerProved;
    state = State.CLOSED;
    String reason = e.getMessage();
    String line = "tasklet.net: " + config.name + " closing "
        + (conn != null ? conn : ch) + ": " + reason;
    if ((unauthenticated || e instanceof DuplicateConnectionException) && level != Level.DEBUG) {
      transport.refusals().log(level, line); // rate-limited: a flood costs few lines
    } else {
      LOG.log(level, line);
    }
    outcome.completeExceptionally(e);
    if (conn != null) {
      conn.closeWith(code, reason, tellPeer);
    } else {
      if (closeReason == null) {
        closeReason = reason;
      }
      ChannelConnection.closeChannel(ch, code, reason, tellPeer, config.handshakeTimeoutMs);
    }
  }

  private static SSLException sslCause(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof SSLException s) {
        return s;
      }
    }
    return null;
  }

  private void write(int type, byte[] payload) {
    FrameWriter.of(ch).send(type, payload);
  }
}
