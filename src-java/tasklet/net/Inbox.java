package tasklet.net;

import java.lang.System.Logger.Level;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One connection's received application frames on their way to the {@link Endpoint}:
 * delivered in order, one at a time, on the transport's inbound executor rather than on
 * the event loop, so a slow delivery (a payload that is slow to thaw) never delays the
 * event loop's heartbeats, nor other connections on that loop. Except: a frame of at most
 * {@link #INLINE_BYTES} that finds nothing queued and the connection writable is
 * delivered at once on the event loop, as before, saving a thread hand-off per message
 * (a remote round trip would pay two wake-ups); so few bytes thaw in well under a
 * millisecond whatever they hold (the slow thaws need tens of KiB: a set of colliding
 * hashes is quadratic in its element count, not in its bytes).
 *
 * <p>Bounded: when the payload bytes received but not yet delivered pass
 * {@code maxBytes}, the connection stops reading its socket (the peer then sees this
 * node as not writable) until half of them are delivered. And delivery pauses while
 * the connection's own outbound buffer is over its high-water mark (the replies that
 * frames cause wait for the peer to read them), so a peer that sends requests and never
 * reads the replies stops being read from. The inbox ends with the connection's last
 * task ({@link #finish}), run after every frame delivered before it.
 *
 * <p>{@link #add} and {@link #finish}: the connection's event loop. The drain runs on
 * the executor, never two at once for one inbox.
 */
final class Inbox implements Runnable {
  private static final System.Logger LOG = System.getLogger("tasklet.net");
  /** Largest payload delivered on the event loop (see the class doc). */
  static final int INLINE_BYTES = 4096;

  private final ChannelConnection conn;
  private final Endpoint endpoint;
  private final Executor executor;
  private final long maxBytes;
  private final ConcurrentLinkedQueue<Object> queue = new ConcurrentLinkedQueue<>(); // Frame or Runnable
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final AtomicLong bytes = new AtomicLong();  // payload bytes queued
  private volatile boolean paused;                    // this inbox stopped the socket's reading

  Inbox(ChannelConnection conn, Endpoint endpoint, Executor executor, long maxBytes) {
    this.conn = conn;
    this.endpoint = endpoint;
    this.executor = executor;
    this.maxBytes = maxBytes;
  }

  /** Queues an application frame; stops reading past the bound. Event loop. */
  void add(Frame f) {
    if (f.payload().length <= INLINE_BYTES && queue.isEmpty() && conn.isWritable()
        && scheduled.compareAndSet(false, true)) {
      // nothing queued and no drain running (add and finish are event loop only, so
      // nothing can be queued meanwhile): deliver here, in order
      try {
        deliver(f);
      } finally {
        scheduled.set(false);
      }
      return;
    }
    queue.add(f);
    if (bytes.addAndGet(f.payload().length) > maxBytes && !paused) {
      paused = true;
      conn.pauseReading();
    }
    schedule();
  }

  /** After a socket read: ends the run of frames it delivered here (see add). Event loop. */
  void readDone() {
    framesDone();
  }

  private void framesDone() {
    try {
      endpoint.framesDone();
    } catch (Throwable t) {
      LOG.log(Level.ERROR, "tasklet.net: Endpoint.framesDone threw", t);
    }
  }

  /** Queues the last task (the loss report), run after every frame queued before. Event loop. */
  void finish(Runnable last) {
    queue.add(last);
    schedule();
  }

  /** Payload bytes received and not yet delivered. Any thread. */
  long backlog() {
    return bytes.get();
  }

  private void schedule() {
    if (scheduled.compareAndSet(false, true)) {
      try {
        executor.execute(this);
      } catch (RejectedExecutionException e) { // transport closing: deliver here
        run();
      }
    }
  }

  @Override
  public void run() {
    for (;;) {
      boolean waiting;
      try {
        waiting = drain();
      } finally {
        framesDone();
      }
      if (waiting) {
        return; // waiting for writability; whenWritable schedules the next drain
      }
      scheduled.set(false);
      if (queue.isEmpty() || !scheduled.compareAndSet(false, true)) {
        return; // nothing more, or a drain scheduled by add() after the last look
      }
    }
  }

  /** Delivers what is queued; true if it stopped because the connection is not writable. */
  private boolean drain() {
    Object x;
    while ((x = queue.peek()) != null) {
      if (x instanceof Frame f) {
        if (!conn.isWritable() && conn.isOpen()) {
          // the peer is not reading what we write: wait for it before causing more
          scheduled.set(false);
          conn.whenWritable(this::schedule);
          return true;
        }
        queue.poll();
        deliver(f);
        long left = bytes.addAndGet(-f.payload().length);
        if (paused && left <= maxBytes / 2) {
          paused = false;
          try {
            conn.resumeReading();
          } catch (RejectedExecutionException e) {
            // the event loop is gone: the connection is closed, nothing to resume
          }
        }
      } else {
        queue.poll();
        runSafely((Runnable) x);
      }
    }
    return false;
  }

  private void deliver(Frame f) {
    if (conn.closedOnPurpose()) {
      return; // this node is closing it (a protocol error, say): nothing more is delivered
    }
    try {
      endpoint.frame(conn, f.type(), f.payload());
    } catch (Throwable t) {
      LOG.log(Level.ERROR, "tasklet.net: Endpoint.frame threw", t);
    }
  }

  private static void runSafely(Runnable r) {
    try {
      r.run();
    } catch (Throwable t) {
      LOG.log(Level.ERROR, "tasklet.net: Endpoint.disconnected threw", t);
    }
  }
}
