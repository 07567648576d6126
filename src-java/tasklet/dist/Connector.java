package tasklet.dist;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import tasklet.kernel.Node;
import tasklet.kernel.NodeTable;
import tasklet.net.Connection;
import tasklet.net.Transport;

/**
 * The connections of one node: its address book (node name -> "host:port",
 * from start!'s :nodes, from the peers' PEERS frames, and for the nodes of
 * this JVM from their own transports, as epmd answers for one host),
 * connect on demand (one attempt per peer at a time), and back-pressure: a
 * sender waits while a connection's outbound buffer is over its high-water
 * mark (Erlang's busy port). Waiting follows {@link Park}. Any thread.
 */
final class Connector {
  private final String self;
  private final long connectTimeoutMs;
  private volatile Transport transport;
  final ConcurrentHashMap<String, String> addresses = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, CompletableFuture<Connection>> connecting = new ConcurrentHashMap<>();

  Connector(String self, long connectTimeoutMs) {
    this.self = self;
    this.connectTimeoutMs = connectTimeoutMs;
  }

  void setTransport(Transport t) { transport = t; }

  Transport transport() { return transport; }

  long connectTimeoutMs() { return connectTimeoutMs; }

  /** The open connection to {@code node}, or null. */
  Connection open(String node) {
    Transport t = transport;
    Connection c = t == null ? null : t.connection(node);
    return c != null && c.isOpen() ? c : null;
  }

  /**
   * The open connection to {@code node}, connecting on demand when its
   * address is known and {@code mayWait}; null when unreachable.
   */
  Connection reach(String node, boolean mayWait) {
    Connection c = open(node);
    if (c != null || !mayWait || transport == null) return c;
    String addr = addressOf(node);
    if (addr == null) return null;
    CompletableFuture<Connection> f = connect(node, addr);
    if (!Park.awaitFuture(f, connectTimeoutMs)) return null;
    c = Park.valueOf(f);
    return c != null && c.isOpen() ? c : null;
  }

  /** The known address of {@code node}: the book's, else that of a distributed node of this JVM. */
  String addressOf(String node) {
    String a = addresses.get(node);
    if (a != null || node.equals(self)) return a;
    Node n = NodeTable.named(node);
    if (n != null && n.distribution() instanceof Outbound o) {
      Transport t = o.dist.connector.transport;
      if (t != null) return t.address();
    }
    return null;
  }

  /** A future of the connection to {@code address}, shared by concurrent connects to {@code node}. */
  CompletableFuture<Connection> connect(String node, String address) {
    CompletableFuture<Connection> f = connecting.get(node);
    if (f != null) return f;
    CompletableFuture<Connection> mine = new CompletableFuture<>();
    f = connecting.putIfAbsent(node, mine);
    if (f != null) return f;
    transport.connect(address).whenComplete((c, e) -> {
      connecting.remove(node, mine);   // before completing: a caller that sees it failed may retry
      if (e != null) mine.completeExceptionally(e);
      else mine.complete(c);
    });
    return mine;
  }

  /**
   * Sends a frame on {@code c}, first waiting while it is not writable (when
   * the caller may wait, rechecking every second). False when it is closed.
   */
  boolean send(Connection c, int type, byte[] payload) {
    if (!c.isWritable() && Park.mayWait()) {
      while (!c.isWritable() && c.isOpen()) Park.awaitWake(c::whenWritable, 1000);
    }
    return c.send(type, payload);
  }

  /** Records what a peer told (PEERS): addresses of nodes this one does not know yet. */
  void learn(Map<String, String> book) {
    book.forEach((n, a) -> { if (!n.equals(self)) addresses.putIfAbsent(n, a); });
  }
}
