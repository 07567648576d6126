package tasklet.net;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A node's TCP transport: listens for peers, connects to peers, and moves typed opaque
 * frames between named, authenticated nodes. It knows nothing of what the frames mean.
 *
 * <p>{@link #start} binds and returns a running transport (epoll when available, else
 * NIO; an epoll loop polls for 200 µs after its last event before it blocks, see
 * {@link PollingSelectStrategy}). {@link #connect} completes after the handshake with the one live connection to
 * the peer: a new one, the one already open, or, when both nodes connect at once, the
 * one that won (see {@link Peers}). Incoming connections are announced only through
 * {@link Endpoint#connected}. {@link #close} closes every connection (each reported
 * through {@link Endpoint#disconnected}) and releases the threads.
 *
 * <p>Each channel's pipeline: {@code [SslHandler] → FlushConsolidationHandler →
 * FrameDecoder → Session}. Threads are named {@code tasklet-net-<node>-<pool>-<n>}.
 *
 * <p>All public methods: any thread, except that {@link #close} does not wait for the
 * shutdown when called on one of this transport's own event-loop threads.
 */
public final class Transport implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger("tasklet.net");
  private static final long FIRST_RETRY_MS = 50; // after losing a simultaneous-connect race

  private final Config config;
  private final Endpoint endpoint;
  private final Peers peers = new Peers();
  private final Admission admission;
  private final RefusalLog refusals = new RefusalLog(20, 10_000, System::nanoTime);
  private final ExecutorService inbound;       // delivers frames (Inbox); direct when unbound
  private final EventLoopGroup group;          // null for an unbound transport
  private final boolean epoll;
  private final Set<Channel> channels = ConcurrentHashMap.newKeySet(); // every live channel
  // connections reported connected whose loss has not been reported yet (the report runs
  // on the inbound pool, possibly after the channel is gone): close() waits for them
  private final Set<ChannelConnection> reporting = ConcurrentHashMap.newKeySet();
  private volatile Channel server;
  private volatile int port;
  private volatile boolean closed;

  private Transport(Config config, Endpoint endpoint, EventLoopGroup group, boolean epoll) {
    this.config = config;
    this.endpoint = endpoint;
    this.group = group;
    this.epoll = epoll;
    this.port = config.port;
    this.admission = new Admission(config.maxHandshakes, config.maxHandshakesPerAddress);
    // FastThreadLocalThreads, like the event loops: the node layer does not wait on them
    this.inbound = group == null ? null : Executors.newFixedThreadPool(
        Math.max(2, Runtime.getRuntime().availableProcessors()),
        new DefaultThreadFactory("tasklet-net-" + config.name + "-in", true));
  }

  /**
   * Starts a transport listening on the configured host and port (port 0: a free port,
   * see {@link #port}). Any thread.
   *
   * @throws IOException if it cannot listen there
   */
  public static Transport start(Config config, Endpoint endpoint) throws IOException {
    boolean epoll = Epoll.isAvailable();
    IoHandlerFactory io = epoll ? EpollIoHandler.newFactory(0, PollingSelectStrategy.FACTORY)
        : NioIoHandler.newFactory();
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(config.ioThreads,
        new DefaultThreadFactory("tasklet-net-" + config.name, true), io);
    Transport t = new Transport(config, endpoint, group, epoll);
    try {
      t.bind();
    } catch (IOException | RuntimeException e) {
      group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      throw e;
    }
    LOG.log(System.Logger.Level.DEBUG, () -> "tasklet.net: " + config.name + " listening on "
        + t.address() + (epoll ? " (epoll)" : " (nio)"));
    return t;
  }

  /**
   * A transport that neither listens nor connects: {@link #attach} drives channels made
   * elsewhere (Netty's {@code EmbeddedChannel} in tests). Any thread.
   */
  public static Transport unbound(Config config, Endpoint endpoint) {
    return new Transport(config, endpoint, null, false);
  }

  private void bind() throws IOException {
    ServerBootstrap b = new ServerBootstrap()
        .group(group)
        .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
        .childHandler(initializer(false));
    ChannelFuture f = b.bind(config.host, config.port).awaitUninterruptibly();
    if (!f.isSuccess()) {
      throw new IOException("cannot listen on " + config.host + ":" + config.port + ": "
          + f.cause().getMessage(), f.cause());
    }
    server = f.channel();
    port = ((InetSocketAddress) server.localAddress()).getPort();
  }

  private ChannelInitializer<Channel> initializer(boolean initiator) {
    return new ChannelInitializer<>() {
      @Override
      protected void initChannel(Channel ch) {
        attach(ch, initiator);
      }
    };
  }

  /**
   * Installs this node's pipeline on {@code ch} (its handshake starts when the channel is,
   * or already is, active) and returns the connection's outcome: the open connection, or
   * a {@link HandshakeException}. {@code initiator} says whether this side made the
   * connection. Used for every socket; public for tests on {@code EmbeddedChannel}.
   * Any thread, before the channel has handlers of its own.
   */
  public CompletableFuture<Connection> attach(Channel ch, boolean initiator) {
    Runnable authenticated = admit(ch, initiator);
    if (authenticated == null) {
      return CompletableFuture.failedFuture(new HandshakeException("refused"));
    }
    channels.add(ch);
    ch.closeFuture().addListener(f -> channels.remove(ch));
    ch.config().setOption(ChannelOption.TCP_NODELAY, true);
    ch.config().setOption(ChannelOption.SO_KEEPALIVE, true);
    ch.config().setWriteBufferWaterMark(
        new WriteBufferWaterMark(config.writeBufferLow, config.writeBufferHigh));
    ChannelPipeline p = ch.pipeline();
    if (config.tls != null) {
      p.addLast("tls", config.tls.newHandler(initiator));
    }
    p.addLast("flush", new FlushConsolidationHandler(256, true));
    FrameDecoder decoder = new FrameDecoder(Handshake.MAX_FRAME_BYTES); // raised once authenticated
    p.addLast("frames", decoder);
    Session session = new Session(this, initiator, decoder, authenticated);
    p.addLast("session", session);
    if (closed) {
      ch.close();
    }
    return session.outcome();
  }

  /**
   * Takes an {@link Admission} place for an inbound socket; returns what gives it back
   * (once: on authentication or close), or null after closing {@code ch} when there is no
   * place. Outbound connections, and channels that are no sockets, need no place.
   */
  private Runnable admit(Channel ch, boolean initiator) {
    if (initiator || !(ch.remoteAddress() instanceof InetSocketAddress remote)
        || remote.getAddress() == null) {
      return () -> { };
    }
    InetAddress from = remote.getAddress();
    String refused = admission.admit(from);
    if (refused != null) {
      refusals.log(System.Logger.Level.WARNING, "tasklet.net: " + config.name
          + " refused a connection from " + remote + ": " + refused);
      ch.close();
      return null;
    }
    AtomicBoolean held = new AtomicBoolean(true);
    Runnable release = () -> {
      if (held.compareAndSet(true, false)) {
        admission.release(from);
      }
    };
    ch.closeFuture().addListener(f -> release.run());
    return release;
  }

  /** Inbound connections holding a handshake place now, for tests. Any thread. */
  public int pendingHandshakes() {
    return admission.pending();
  }

  RefusalLog refusals() {
    return refusals;
  }

  /** Notes that {@code c} was reported connected; forgotten once its loss is reported. */
  void reporting(ChannelConnection c) {
    reporting.add(c);
    c.down.whenComplete((v, e) -> reporting.remove(c));
  }

  /** Where Inboxes deliver: the inbound pool, or the calling thread when unbound. */
  Executor inbound() {
    return inbound != null ? inbound : Runnable::run;
  }

  /** {@link #connect(String, int)} with {@code "host:port"}. Any thread. */
  public CompletableFuture<Connection> connect(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0) {
      return CompletableFuture.failedFuture(
          new IllegalArgumentException("expected host:port, got " + hostPort));
    }
    return connect(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
  }

  /**
   * Connects to the node listening at {@code host:port}. Completes with the open
   * connection after the handshake (at once if a connection to a peer advertising this
   * address is open), or fails with {@link AuthFailedException} (different cookies),
   * another {@link HandshakeException}, or the socket's {@link IOException}. A new
   * connection completes the future after {@link Endpoint#connected} has returned for it,
   * on its event loop: stages chained without an executor run there and must not block.
   * Any thread.
   */
  public CompletableFuture<Connection> connect(String host, int port) {
    CompletableFuture<Connection> result = new CompletableFuture<>();
    if (group == null) {
      result.completeExceptionally(new IllegalStateException("an unbound transport cannot connect"));
      return result;
    }
    ChannelConnection open = peers.byAddress(host + ":" + port);
    if (open != null) {
      result.complete(open);
      return result;
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.handshakeTimeoutMs);
    attempt(host, port, result, deadline, 0);
    return result;
  }

  private void attempt(String host, int port, CompletableFuture<Connection> result,
                       long deadline, int tries) {
    if (result.isDone()) {
      return;
    }
    if (closed) {
      result.completeExceptionally(new HandshakeException("transport " + config.name + " is closed"));
      return;
    }
    long leftMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    Bootstrap b = new Bootstrap()
        .group(group)
        .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(leftMs, Integer.MAX_VALUE))
        .handler(new ChannelInitializer<>() {
          @Override
          protected void initChannel(Channel ch) {
            attach(ch, true).whenComplete((c, e) ->
                settle(host, port, result, deadline, tries, c, e));
          }
        });
    try {
      b.connect(host, port).addListener((ChannelFuture f) -> {
        if (!f.isSuccess()) {
          result.completeExceptionally(f.cause());
        }
      });
    } catch (RejectedExecutionException e) {
      result.completeExceptionally(new HandshakeException("transport " + config.name + " is closed"));
    }
  }

  /** One attempt ended: done, failed, or lost a race (then wait for the winner / retry). */
  private void settle(String host, int port, CompletableFuture<Connection> result,
                      long deadline, int tries, Connection c, Throwable e) {
    if (e == null) {
      result.complete(c);
      return;
    }
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (!(cause instanceof DuplicateConnectionException dup)) {
      result.completeExceptionally(cause);
      return;
    }
    String peer = dup.peerName();
    peers.await(peer, result);
    long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
    if (leftMs <= 0) {
      peers.forget(peer, result);
      result.completeExceptionally(new HandshakeException("node " + LogText.of(peer)
          + " still holds a live connection to a node called " + config.name + " (an older"
          + " incarnation of this node, or another node of that name): " + dup.getMessage()
          + "; give each node its own name, or try again once the old one is gone"));
      return;
    }
    long delay = Math.min(leftMs, FIRST_RETRY_MS << Math.min(tries, 6));
    try {
      group.schedule(() -> {
        peers.forget(peer, result);
        attempt(host, port, result, deadline, tries + 1);
      }, delay, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException x) {
      result.completeExceptionally(new HandshakeException("transport " + config.name + " is closed"));
    }
  }

  /**
   * The open connection to the node called {@code peerName}, or null. A connection is
   * listed here (and in {@link #connections}) once {@link Endpoint#connected} has
   * returned for it. Any thread.
   */
  public Connection connection(String peerName) {
    return peers.get(peerName);
  }

  /** Every open connection. Any thread. */
  public List<Connection> connections() {
    return peers.all();
  }

  /** This node's name. Any thread. */
  public String name() {
    return config.name;
  }

  /** This node's incarnation. Any thread. */
  public int incarnation() {
    return config.incarnation;
  }

  /** The port this transport listens on (the configured one if unbound). Any thread. */
  public int port() {
    return port;
  }

  /** The advertised listen address, {@code host:port}. Any thread. */
  public String address() {
    return config.advertisedHost + ":" + port;
  }

  /**
   * Frames written straight to a socket by the thread that sent them, in this JVM (see
   * FrameWriter), for tests and observability. Any thread.
   */
  public static long directWrites() {
    return FrameWriter.directWrites();
  }

  /**
   * Frames staged into a connection's batch buffer (a stream of sends, handed to the
   * pipeline by one drain and one flush per batch; see FrameWriter), and the drains that
   * handed them over, in this JVM, for tests and observability: {@code [frames drains]}.
   * Any thread.
   */
  public static long[] batchedWrites() {
    return new long[] {FrameWriter.batchedFrames(), FrameWriter.drains()};
  }

  /** True if the transport runs on native epoll, false for NIO. Any thread. */
  public boolean isEpoll() {
    return epoll;
  }

  Config config() {
    return config;
  }

  Endpoint endpoint() {
    return endpoint;
  }

  Peers peers() {
    return peers;
  }

  /**
   * Stops listening, closes every connection (each open one is reported through
   * {@link Endpoint#disconnected}), fails pending connects, and shuts the event loops
   * down. Idempotent. Any thread; except on one of this transport's own event-loop
   * threads it waits (a few seconds at most) until the shutdown is done, so every
   * {@code disconnected} callback has run when it returns.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    boolean mayWait = group == null || !onOwnEventLoop();
    if (server != null) {
      server.close();
    }
    peers.failWaiters(new HandshakeException("transport " + config.name + " is closed"));
    String reason = "node " + config.name + " shutting down";
    List<Channel> all = new ArrayList<>(channels);
    for (Channel ch : all) {
      Session s = ch.pipeline().get(Session.class);
      try {
        ch.eventLoop().execute(() -> {
          if (s != null) {
            s.shutdown(reason);
          } else {
            ch.close();
          }
        });
      } catch (RejectedExecutionException e) {
        ch.close();
      }
    }
    if (mayWait) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      for (Channel ch : all) {
        long left = deadline - System.nanoTime();
        if (left > 0) {
          ch.closeFuture().awaitUninterruptibly(left, TimeUnit.NANOSECONDS);
        }
      }
      for (ChannelConnection c : new ArrayList<>(reporting)) { // each loss is reported
        long left = deadline - System.nanoTime();
        if (left > 0) {
          try {
            c.down.get(left, TimeUnit.NANOSECONDS);
          } catch (Exception e) {
            // reported late or never (a callback hangs): do not hang the close
          }
        }
      }
    }
    if (inbound != null) {
      inbound.shutdown(); // queued deliveries still run; a late one runs on its caller
    }
    if (group != null) {
      io.netty.util.concurrent.Future<?> f = group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
      if (mayWait) {
        f.awaitUninterruptibly(5, TimeUnit.SECONDS);
      }
    }
  }

  private boolean onOwnEventLoop() {
    for (io.netty.util.concurrent.EventExecutor e : group) {
      if (e.inEventLoop()) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "Transport[" + config.name + "/" + config.incarnation + " " + address()
        + (closed ? " closed" : "") + "]";
  }
}
