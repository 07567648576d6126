package tasklet.dist;

import clojure.lang.AFn;
import clojure.lang.IFn;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import tasklet.kernel.Node;
import tasklet.kernel.Pid;
import tasklet.kernel.Tasklet;
import tasklet.kernel.Terms;
import tasklet.net.Connection;

/**
 * Requests to peers and answers to theirs (spawn-on, remote alive?,
 * process-info and whereis): a REQUEST [id reply-to op arg] is answered by
 * one REPLY [id reply-to status value], status :ok or :error. The caller
 * waits in its mailbox for a private {@link Answer} (a selective receive), up to
 * :request-timeout-ms; the answer is routed by id through {@code pending}, so
 * one that comes after the caller gave up finds no entry and is dropped, and
 * a lost connection answers its pending requests with :noconnection. What
 * needs Clojure (:spawn resolves and may load code, :info describes a
 * tasklet) goes to the resolver, an {@code IFn} of (op arg) returning
 * {@code Object[] {status value}}; it runs on a small loader pool, never on
 * the transport's threads. Any thread.
 */
final class Requests {
  /** A reply as it lands in the caller's mailbox. */
  record Answer(long id, Object status, Object value) {}

  private record Pending(String node, Pid replyTo) {}

  /** The loader: 2 threads, 256 waiting requests; past that the receiving thread runs it (back-pressure on that peer). */
  private static final ExecutorService LOADER = new ThreadPoolExecutor(2, 2, 60, TimeUnit.SECONDS,
      new ArrayBlockingQueue<>(256), r -> {
        Thread t = new Thread(r, "tasklet-node-loader");
        t.setDaemon(true);
        return t;
      }, new ThreadPoolExecutor.CallerRunsPolicy());

  private final Dist dist;
  private final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final Object ok, error, noconnection, spawn, alive, info, whereis;

  Requests(Dist dist) {
    this.dist = dist;
    Codec c = dist.codec;
    ok = c.keyword("ok");
    error = c.keyword("error");
    noconnection = c.keyword("noconnection");
    spawn = c.keyword("spawn");
    alive = c.keyword("alive");
    info = c.keyword("info");
    whereis = c.keyword("whereis");
  }

  /**
   * Sends request {@code op}/{@code arg} to {@code node} and waits for the
   * answer's value. Throws :not-connected when the node is unreachable or
   * lost meanwhile, :timeout after :request-timeout-ms, or the error the
   * target reported.
   */
  Object request(String node, Object op, Object arg) {
    Terms terms = dist.terms();
    Connection c = dist.connector.reach(node, Park.mayWait());
    if (c == null) {
      throw terms.error("not-connected", "node " + node + " is not connected and its address is unknown"
          + " or it does not answer; connect! to it first", "node", dist.codec.keyword(node));
    }
    Tasklet me = Node.currentTasklet();
    if (me == null || !me.isAlive()) me = Node.local().self();
    Node n = dist.local.node;
    long id = ids.incrementAndGet();
    // the REQUEST names a pid of this node (a peer speaks only for its own
    // pids); the answer is routed by id, so a caller whose pid is not of this
    // node (a REPL thread that kept its pid across start!) is named by serial
    // 0, which no tasklet has
    Pid from = dist.local.own(me.pid()) ? me.pid() : new Pid(n.name, 0, n.incarnation);
    pending.put(id, new Pending(node, me.pid()));
    if (!dist.connector.send(c, DistFrames.REQUEST, dist.codec.encode(new Object[] {id, from, op, arg}))) {
      pending.remove(id);
      throw terms.error("not-connected", "node " + node + " was lost", "node", dist.codec.keyword(node));
    }
    IFn match = new AFn() {
      @Override public Object invoke(Object m) { return m instanceof Answer a && a.id == id ? m : null; }
    };
    Object r = me.receive(match, dist.requestTimeoutMs * 1_000_000L, null, false);
    if (r == null) {
      if (pending.remove(id) != null) {
        throw terms.error("timeout", "node " + node + " did not answer " + dist.codec.printable(op) + " within "
            + dist.requestTimeoutMs + " ms", "node", dist.codec.keyword(node));
      }
      r = me.receive(match, -1, null, false);   // answered just now: take it
    }
    Answer a = (Answer) r;
    if (ok.equals(a.status)) return a.value;
    if (noconnection.equals(a.status)) {
      throw terms.error("not-connected", "node " + node + " was lost before it answered "
          + dist.codec.printable(op), "node", dist.codec.keyword(node));
    }
    throw dist.codec.remoteError(a.value);
  }

  /** A peer's REQUEST, answered on {@code c}. Inbound thread. */
  void answer(Connection c, Object id, Pid replyTo, Object op, Object arg) {
    if (alive.equals(op)) {
      Tasklet t = arg instanceof Pid p ? dist.local.ownTasklet(p) : null;
      reply(c, id, replyTo, ok, t != null && !t.isExiting());
    } else if (whereis.equals(op)) {
      reply(c, id, replyTo, ok, dist.local.node.whereis(arg));
    } else if (spawn.equals(op) || info.equals(op)) {
      LOADER.execute(() -> {
        Object[] r;
        try {
          r = (Object[]) dist.resolver.invoke(op, arg);
        } catch (RuntimeException e) {
          r = new Object[] {error, errorValue("badarg", String.valueOf(e.getMessage()))};
        }
        reply(c, id, replyTo, r[0], r[1]);
      });
    } else {
      reply(c, id, replyTo, error, errorValue("badarg", "unknown request " + dist.codec.printable(op)));
    }
  }

  private Object errorValue(String kind, String message) {
    Codec k = dist.codec;
    return k.map(k.keyword("tasklet/error"), k.keyword(kind), k.keyword("message"), message);
  }

  private void reply(Connection c, Object id, Pid replyTo, Object status, Object value) {
    byte[] b;
    try {
      b = dist.codec.encode(new Object[] {id, replyTo, status, value});
    } catch (RuntimeException e) {
      b = dist.codec.encode(new Object[] {id, replyTo, error, errorValue("unserializable", e.getMessage())});
    }
    c.send(DistFrames.REPLY, b);
  }

  /**
   * A REPLY from {@code c}'s peer: delivered to the caller waiting for it.
   * Null when fine (also for an answer that came too late), else why the
   * connection is to be closed.
   */
  String onReply(Connection c, Object id, Object status, Object value) {
    Pending p = id instanceof Long l ? pending.get(l) : null;
    if (p == null) {
      boolean ours = id instanceof Long l && l >= 1 && l <= ids.get();
      return ours ? null : "REPLY to request " + dist.codec.printable(id) + ", which this node never sent";
    }
    if (!p.node.equals(c.peerName())) {
      return "REPLY to request " + id + ", which was not sent to node " + c.peerName();
    }
    if (pending.remove(id, p)) dist.local.deliver(p.replyTo, new Answer((Long) id, status, value));
    return null;
  }

  /** The connection to {@code peer} is lost: its pending requests fail with :noconnection. */
  void lost(String peer) {
    for (Map.Entry<Long, Pending> e : pending.entrySet()) {
      if (e.getValue().node.equals(peer) && pending.remove(e.getKey(), e.getValue())) {
        dist.local.deliver(e.getValue().replyTo, new Answer(e.getKey(), noconnection, null));
      }
    }
  }

  /** The callers waiting for {@code peer} now (tests and tools). */
  List<Pid> pendingOn(String peer) {
    List<Pid> out = new ArrayList<>();
    pending.values().forEach(p -> { if (p.node.equals(peer)) out.add(p.replyTo); });
    return out;
  }
}
