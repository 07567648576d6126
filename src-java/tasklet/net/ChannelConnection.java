package tasklet.net;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The {@link Connection} over one Netty {@link Channel}: created by {@link Session} when
 * the peer's HELLO arrives, handed to the endpoint only once the handshake is done.
 *
 * <p>Sending is any-thread: frames are encoded on the caller's thread and go through the
 * channel's {@link FrameWriter}, which writes a lone frame straight to the socket and
 * stages the rest in batches that the event loop hands to the pipeline with one flush each
 * (staged bytes count against the high-water mark at once). Per-thread order holds either
 * way.
 *
 * <p>Closing: the first {@link #closeWith} reason wins (a CAS on {@link #closing}); the
 * CLOSE frame is queued behind earlier frames, and the channel closes once it is written
 * or after a linger period, whichever comes first (a peer that reads nothing cannot hold
 * the connection open).
 */
final class ChannelConnection implements Connection {
  private static final System.Logger LOG = System.getLogger("tasklet.net");

  final Channel ch;
  final FrameWriter writer;
  private final Handshake.Hello peer;
  private final int maxFrameBytes;
  private final long lingerMs;              // how long a CLOSE frame may take to drain
  final CompletableFuture<Void> down = new CompletableFuture<>(); // done after disconnected()
  private final AtomicReference<String> closing = new AtomicReference<>(); // first close reason
  private volatile boolean closedOnPurpose;  // closeWith (this node), not lost (the peer, the wire)
  Inbox inbox;                               // set by Session.open, event loop
  private final ArrayDeque<Runnable> writableWaiters = new ArrayDeque<>(); // event loop only
  private volatile long peerLoad = -1;      // from the latest TICK
  private volatile long peerLoadReports;    // TICKs received; written by the event loop only
  volatile boolean readingPaused;          // set by pauseReading/resumeReading
  volatile long lastRead;                  // event-loop ticker time of the latest read (Heartbeat)

  ChannelConnection(Channel ch, Handshake.Hello peer, int maxFrameBytes, long lingerMs) {
    this.ch = ch;
    this.writer = FrameWriter.of(ch);
    this.peer = peer;
    this.maxFrameBytes = maxFrameBytes;
    this.lingerMs = lingerMs;
  }

  @Override
  public String peerName() {
    return peer.name();
  }

  @Override
  public int peerIncarnation() {
    return peer.incarnation();
  }

  @Override
  public String peerAddress() {
    return peer.address();
  }

  @Override
  public boolean send(int type, byte[] payload) {
    if (!FrameType.isApp(type)) {
      throw new IllegalArgumentException("application frame type must be 0x10..0x7f: 0x"
          + Integer.toHexString(type));
    }
    if (payload.length >= maxFrameBytes) {
      throw new IllegalArgumentException("payload of " + payload.length
          + " bytes exceeds maxFrameBytes " + maxFrameBytes + " (less 1 for the type)");
    }
    if (closing.get() != null || !ch.isActive()) {
      return false;
    }
    writer.send(type, payload);
    return true;
  }

  @Override
  public boolean isWritable() {
    return writer.writable() && closing.get() == null;
  }

  @Override
  public void whenWritable(Runnable r) {
    try {
      ch.eventLoop().execute(() -> {
        if (ch.isWritable() || !ch.isActive() || down.isDone()) {
          runSafely(r);
        } else {
          writableWaiters.add(r);
        }
      });
    } catch (RejectedExecutionException e) { // event loop gone: the connection is closed
      runSafely(r);
    }
  }

  /** Runs the waiters if the channel is writable or closed. Event loop only. */
  void fireWritableWaiters() {
    while (!writableWaiters.isEmpty() && (ch.isWritable() || !ch.isActive())) {
      runSafely(writableWaiters.poll());
    }
  }

  /**
   * True if something was read from the peer within {@code nanos} (by the event loop's
   * clock): the peer is demonstrably alive. Any thread.
   */
  boolean heardWithin(long nanos) {
    return isOpen() && ch.eventLoop().ticker().nanoTime() - lastRead < nanos;
  }

  @Override
  public long lastPeerLoad() {
    return peerLoad;
  }

  @Override
  public long peerLoadReports() {
    return peerLoadReports;
  }

  /** Records a TICK's figure. Event loop only (the single writer of both fields). */
  void peerLoad(long load) {
    peerLoad = load;
    // figure first: a reader that reads the count, then the figure, gets that report or a newer one
    peerLoadReports = peerLoadReports + 1;
  }

  @Override
  public void pauseReading() {
    readingPaused = true;
    ch.config().setAutoRead(false);
  }

  @Override
  public void resumeReading() {
    readingPaused = false;
    ch.config().setAutoRead(true);
  }

  @Override
  public void close(String reason) {
    closeWith(FrameType.CLOSE_NORMAL, reason, true);
  }

  /**
   * Closes with a CLOSE frame of {@code code} (if {@code tellPeer}) unless a close is
   * already under way. Returns false if it was. Any thread.
   */
  boolean closeWith(int code, String reason, boolean tellPeer) {
    if (!closing.compareAndSet(null, reason)) {
      return false;
    }
    closedOnPurpose = true;
    closeChannel(ch, code, reason, tellPeer, lingerMs);
    return true;
  }

  /** Records why the channel went away if nobody closed it on purpose. Any thread. */
  void lost(String reason) {
    closing.compareAndSet(null, reason);
  }

  /** True once this node closed the connection (not the peer or the wire). Any thread. */
  boolean closedOnPurpose() {
    return closedOnPurpose;
  }

  /** Why the connection closed (or is closing), or null while open. Any thread. */
  String closeReason() {
    return closing.get();
  }

  @Override
  public boolean isOpen() {
    return closing.get() == null && ch.isActive();
  }

  /**
   * Writes a CLOSE frame (if asked and possible) and closes the channel once it is out,
   * or after {@code lingerMs}. Any thread.
   */
  static void closeChannel(Channel ch, int code, String reason, boolean tellPeer, long lingerMs) {
    if (!tellPeer || !ch.isActive()) {
      ch.close();
      return;
    }
    FrameWriter.of(ch).write(Frames.encode(ch.alloc(), FrameType.CLOSE, Frames.close(code, reason)))
        .addListener(ChannelFutureListener.CLOSE);
    try {
      ScheduledFuture<?> linger =
          ch.eventLoop().schedule(() -> { ch.close(); }, lingerMs, TimeUnit.MILLISECONDS);
      ch.closeFuture().addListener(f -> linger.cancel(false));
    } catch (RejectedExecutionException e) {
      ch.close();
    }
  }

  private static void runSafely(Runnable r) {
    try {
      r.run();
    } catch (Throwable t) {
      LOG.log(System.Logger.Level.ERROR, "whenWritable callback threw", t);
    }
  }

  @Override
  public String toString() {
    return "Connection[" + peer.name() + "/" + peer.incarnation() + " " + peer.address()
        + (isOpen() ? "" : " closed") + "]";
  }
}
