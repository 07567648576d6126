package tasklet.dist;

import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import tasklet.kernel.Aliases;
import tasklet.kernel.Links;
import tasklet.kernel.Monitors;
import tasklet.kernel.Pid;
import tasklet.kernel.Ref;
import tasklet.kernel.Signals;
import tasklet.kernel.Tasklet;
import tasklet.net.Connection;
import tasklet.net.Endpoint;
import tasklet.net.LogText;
import tasklet.net.Transport;

/**
 * The transport's {@link Endpoint} for one node: a peer's frames become
 * kernel operations on this node's tasklets, and a lost connection becomes
 * :noconnection for the links and monitors that crossed it.
 *
 * <p>A peer is hostile input. A frame of an unknown type, a payload that
 * does not thaw, one of the wrong shape, or a signal "from" a pid that is not
 * the peer's own (this incarnation) closes that connection with a logged
 * reason (WARNING on System.getLogger "tasklet.node"); other connections and
 * every tasklet go on. A frame targets only this node's tasklets: anything
 * else is dropped, never forwarded.
 *
 * <p>A DOWN reaches the watcher only while the watcher still has that
 * monitor (the rule the kernel applies to local targets), atomically with
 * its removal ({@link Monitors#fire}): a DOWN in flight when the
 * watcher demonitors never lands after the demonitor.
 *
 * <p>Threads: {@code connected} on the connection's event loop, frames and
 * the loss on the transport's inbound pool, in order per connection.
 */
final class Inbound implements Endpoint {
  private static final System.Logger LOG = System.getLogger("tasklet.node");

  private final Dist dist;
  /**
   * Per thread, for this run of frames: [0] the tasklet the last send went to, [1] that
   * tasklet if it was given messages since it was last woken (see {@link #framesDone}).
   */
  private static final ThreadLocal<Tasklet[]> UNWOKEN = ThreadLocal.withInitial(() -> new Tasklet[2]);

  Inbound(Dist dist) { this.dist = dist; }

  /**
   * Wakes the tasklet left unwoken by this thread's run of frames. A read of a stream of
   * sends to one tasklet (W6: 1,400 frames a read) woke the receiver per message: caught
   * up, it parked and was resumed per message, the loop and its worker moving the mailbox's
   * and the tasklet's cache lines between the CPUs each time (2.3 µs a frame on the loop
   * instead of 0.25, and 5-7M sched_yield calls of its idle worker, ADR 0010). Now the first
   * message of a run to a tasklet wakes it at once (a lone request costs no latency) and the
   * rest of the run's messages to it are put without a wake, which comes here. Order is
   * kept: every message is put in frame order at once, only the wake waits, never past the
   * run (or past a frame that is not a send, or a send to another tasklet).
   */
  @Override public void framesDone() {
    Tasklet[] u = UNWOKEN.get();
    Tasklet t = u[1];
    u[0] = null;
    u[1] = null;
    if (t != null) t.wake();
  }

  /** Puts msg in t's mailbox; wakes t now if this is the run's first message to it. */
  private static void deliverSoon(Tasklet t, Object msg) {
    Tasklet[] u = UNWOKEN.get();
    if (u[0] == t) {
      t.put(msg);   // a full-fence add: the wake in framesDone needs no fence of its own
      u[1] = t;
      return;
    }
    if (u[1] != null) u[1].wake();
    u[0] = t;
    u[1] = null;
    t.put(msg);
    t.wake();
  }

  @Override public long load() { return dist.local.node.processCount(); }

  @Override public void connected(Connection c) {
    String peer = c.peerName();
    dist.connector.addresses.put(peer, c.peerAddress());
    Map<Object, Object> book = new HashMap<>(dist.connector.addresses);
    Transport t = dist.connector.transport();   // null only while start! installs this node
    if (t != null) book.put(dist.local.node.name, t.address());
    Object[] kvs = new Object[book.size() * 2];
    int i = 0;
    for (Map.Entry<Object, Object> e : book.entrySet()) {
      kvs[i++] = e.getKey();
      kvs[i++] = e.getValue();
    }
    c.send(DistFrames.PEERS, dist.codec.encodeTerm(dist.codec.map(kvs)));
    dist.watchers.up(peer);
    LOG.log(Level.DEBUG, () -> "tasklet.node: " + dist.local.node.name + " connected to " + peer + " at "
        + c.peerAddress());
  }

  @Override public void frame(Connection c, int type, byte[] payload) {
    // anything but a send acts at once: whoever it reaches first sees the messages before it
    if (type != DistFrames.SEND) framesDone();
    Object v;
    try {
      v = dist.codec.decode(payload);
    } catch (Throwable e) {
      close(c, "a payload of frame type " + DistFrames.hex(type) + " does not thaw: " + causes(e));
      return;
    }
    String why = type == DistFrames.PEERS ? peers(c, v) : v instanceof List<?> f ? dispatch(c, type, f)
        : "malformed frame type " + DistFrames.hex(type) + ": " + dist.codec.printable(v);
    if (why != null) close(c, why);
  }

  /** Acts on one frame; null, or why the connection is to be closed. */
  private String dispatch(Connection c, int type, List<?> f) {
    int n = f.size();
    switch (type) {
      case DistFrames.SEND -> {
        if (n != 2 || !(f.get(0) instanceof Pid || f.get(0) instanceof Ref)) return malformed(type, f);
        if (f.get(0) instanceof Pid to) {
          Tasklet t = dist.local.tasklet(to);
          if (t != null && t.isAlive()) deliverSoon(t, f.get(1));
        }
        else if (ownRef((Ref) f.get(0))) Aliases.deliver((Ref) f.get(0), f.get(1));   // dropped unless active here
      }
      case DistFrames.DOWN -> {
        Object[] down = n == 2 && f.get(0) instanceof Pid ? dist.codec.downParts(f.get(1)) : null;
        if (down == null) return malformed(type, f);
        // not in the table: demonitored meanwhile (dropped); it goes to the
        // watcher that made the monitor, whatever the frame says
        MonitorTable.Watch w = dist.monitors.takeMine(c.peerName(), (Ref) down[0]);
        if (w != null) {
          Tasklet t = dist.local.tasklet(w.watcher());
          if (t != null) Monitors.fire(t, (Ref) down[0], f.get(1));
        }
      }
      case DistFrames.SEND_NAMED -> {
        if (n != 2) return malformed(type, f);
        Pid p = dist.local.node.whereis(f.get(0));
        if (p != null) dist.local.deliver(p, f.get(1));
      }
      case DistFrames.LINK -> {
        if (n != 2 || !pids(f, 0, 1)) return malformed(type, f);
        Pid from = (Pid) f.get(0), to = (Pid) f.get(1);
        if (!peersOwn(c, from)) return forged(c, "LINK", from);
        Tasklet t = dist.local.ownTasklet(to);
        if (t != null && Links.linkFromRemote(from, t)) dist.links.add(c.peerName(), to, from);
        else c.send(DistFrames.EXIT, dist.codec.encode(new Object[] {to, from, dist.terms().noproc(), true}));
      }
      case DistFrames.UNLINK -> {
        if (n != 2 || !pids(f, 0, 1)) return malformed(type, f);
        Pid from = (Pid) f.get(0), to = (Pid) f.get(1);
        if (!peersOwn(c, from)) return forged(c, "UNLINK", from);
        dist.links.remove(c.peerName(), to, from);
        Tasklet t = dist.local.ownTasklet(to);
        if (t != null) Links.unlinkFromRemote(from, t);
      }
      case DistFrames.EXIT -> {
        if (n != 4 || !pids(f, 0, 1)) return malformed(type, f);
        Pid from = (Pid) f.get(0), to = (Pid) f.get(1);
        if (!peersOwn(c, from)) return forged(c, "EXIT", from);
        Tasklet t = dist.local.ownTasklet(to);
        if (t != null) {
          if (Boolean.TRUE.equals(f.get(3))) {
            dist.links.remove(c.peerName(), to, from);
            Links.remoteExit(t, from, f.get(2));
          } else {
            Signals.exitSignal(t, from, f.get(2), false);
          }
        }
      }
      case DistFrames.MONITOR -> {
        if (n != 3 || !(f.get(0) instanceof Pid) || !(f.get(1) instanceof Ref)) return malformed(type, f);
        Pid watcher = (Pid) f.get(0);
        Ref ref = (Ref) f.get(1);
        Object dest = f.get(2);
        if (!peersOwn(c, watcher)) return forged(c, "MONITOR", watcher);
        Pid target = dest instanceof Pid p ? p
            : dest instanceof List<?> l && l.size() == 2 ? dist.local.node.whereis(l.get(0)) : null;
        Tasklet t = target == null ? null : dist.local.ownTasklet(target);
        if (t != null && Monitors.monitorFromRemote(watcher, t, ref, dest)) {
          dist.monitors.addWatched(c.peerName(), ref, t.pid());
        } else {
          c.send(DistFrames.DOWN, dist.codec.encode(new Object[] {watcher,
              dist.terms().downMessage(ref, dest, dist.terms().noproc())}));
        }
      }
      case DistFrames.DEMONITOR -> {
        if (n != 3 || !(f.get(1) instanceof Ref)) return malformed(type, f);
        if (!peersOwn(c, f.get(0))) return forged(c, "DEMONITOR", f.get(0));
        Pid target = dist.monitors.takeWatched(c.peerName(), (Ref) f.get(1));
        Tasklet t = target == null ? null : dist.local.ownTasklet(target);
        if (t != null) Monitors.dropMonitoredBy(t, (Ref) f.get(1));
      }
      case DistFrames.REQUEST -> {
        if (n != 4 || !(f.get(1) instanceof Pid)) return malformed(type, f);
        if (!peersOwn(c, f.get(1))) return forged(c, "REQUEST", f.get(1));
        dist.requests.answer(c, f.get(0), (Pid) f.get(1), f.get(2), f.get(3));
      }
      case DistFrames.REPLY -> {
        if (n != 4 || !(f.get(1) instanceof Pid)) return malformed(type, f);
        return dist.requests.onReply(c, f.get(0), f.get(2), f.get(3));
      }
      default -> {
        return "unknown frame type " + DistFrames.hex(type);
      }
    }
    return null;
  }

  /** PEERS: the addresses the peer knows; then whoever expected this peer (a local child) hears of it. */
  private String peers(Connection c, Object v) {
    if (!(v instanceof Map<?, ?> m)) return "malformed frame type " + DistFrames.hex(DistFrames.PEERS) + ": "
        + dist.codec.printable(v);
    Map<String, String> book = new HashMap<>();
    m.forEach((k, a) -> { if (k instanceof String n && a instanceof String s) book.put(n, s); });
    dist.connector.learn(book);
    dist.connected(c);   // a frame comes only after the transport listed the connection
    return null;
  }

  @Override public void disconnected(Connection c, String reason) {
    String peer = c.peerName();
    LOG.log(Level.DEBUG, () -> "tasklet.node: " + dist.local.node.name + " lost " + peer + ": " + reason);
    Object noconnection = dist.terms().noconnection();
    Outbound out = dist.outbound;
    for (LinkTable.Link l : dist.links.takeAll(peer)) out.remoteExit(l.local(), l.remote(), noconnection);
    dist.monitors.takeAllMine(peer).forEach((ref, w) -> out.fire(w.watcher(), ref, w.dest(), noconnection));
    dist.monitors.takeAllWatched(peer).forEach((ref, target) -> {
      Tasklet t = dist.local.ownTasklet(target);
      if (t != null) Monitors.dropMonitoredBy(t, ref);
    });
    dist.requests.lost(peer);
    // the node's own bookkeeping (its children table, disconnect!'s wait)
    // before any [:nodedown peer]: whoever sees the nodedown sees it done
    dist.lost(peer, reason);
    dist.watchers.down(peer);
  }

  private boolean ownRef(Ref r) {
    return r.incarnation == dist.local.node.incarnation && r.node.equals(dist.local.node.name);
  }

  private static boolean pids(List<?> f, int a, int b) { return f.get(a) instanceof Pid && f.get(b) instanceof Pid; }

  /** Whether {@code p} is a pid of the node at the other end of {@code c} (this incarnation). */
  private static boolean peersOwn(Connection c, Object p) {
    return p instanceof Pid q && q.node.equals(c.peerName()) && q.incarnation == c.peerIncarnation();
  }

  private String malformed(int type, List<?> f) {
    return "malformed frame type " + DistFrames.hex(type) + ": " + dist.codec.printable(f);
  }

  private String forged(Connection c, String what, Object p) {
    return what + " from " + dist.codec.printable(p) + ", a pid that is not of node " + c.peerName()
        + " (incarnation " + c.peerIncarnation() + ")";
  }

  private void close(Connection c, String why) {
    LOG.log(Level.WARNING, "tasklet.node: closing the connection to " + LogText.of(c.peerName()) + ": "
        + LogText.of(why, 500));
    c.close(why);
  }

  /** The messages of {@code t}'s cause chain (at most 5), innermost last. */
  private static String causes(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; t != null && i < 5; i++, t = t.getCause() == t ? null : t.getCause()) {
      if (i > 0) sb.append(": ");
      sb.append(t.getMessage() != null ? t.getMessage() : t.getClass().getName());
    }
    return sb.toString();
  }
}
