package tasklet.dist;

import clojure.lang.IFn;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import tasklet.kernel.Node;
import tasklet.kernel.Pid;
import tasklet.kernel.Terms;
import tasklet.net.Connection;
import tasklet.net.Endpoint;
import tasklet.net.Transport;

/**
 * The node protocol of one kernel node, between the kernel (it installs an
 * {@link Outbound} as the node's {@code Distribution}) and the transport (it
 * serves the node's {@code Transport} as an {@link Inbound} endpoint): the
 * per-peer link and monitor tables, requests, node monitors and the address
 * book, and what tasklet.node asks of them. The Clojure layer supplies only
 * the {@link Codec} and the resolver of peers' spawn and info requests.
 *
 * <p>One mechanism: the kernel hands every pid, alias and name of another
 * distributed node to this object, whether that node lives in this JVM or
 * not; nodes of one JVM talk over the same transport, frames and tables as
 * nodes of two.
 *
 * <p>Lifecycle: make it, start the transport with {@link #endpoint()}, then
 * {@link #install}; {@link #close} closes every connection (each one's loss
 * fires as usual) and uninstalls it. All methods: any thread.
 */
public final class Dist {
  final Local local;
  final Codec codec;
  final IFn resolver;
  final long requestTimeoutMs;
  final Connector connector;
  final LinkTable links = new LinkTable();
  final MonitorTable monitors = new MonitorTable();
  final NodeWatchers watchers;
  final Requests requests;
  final Outbound outbound = new Outbound(this);
  private final Inbound inbound = new Inbound(this);
  private final ConcurrentHashMap<String, CompletableFuture<String>> gone = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, CompletableFuture<Connection>> expected = new ConcurrentHashMap<>();
  private volatile IFn onLost;

  /**
   * The protocol of {@code node}. {@code resolver}: (op arg) -> {@code
   * Object[] {status value}} for a peer's :spawn [sym args] and :info pid.
   */
  public Dist(Node node, Codec codec, IFn resolver, long requestTimeoutMs, long connectTimeoutMs) {
    this.local = new Local(node);
    this.codec = codec;
    this.resolver = resolver;
    this.requestTimeoutMs = requestTimeoutMs;
    this.connector = new Connector(node.name, connectTimeoutMs);
    this.watchers = new NodeWatchers(codec, local);
    this.requests = new Requests(this);
  }

  /** The protocol installed on node {@code n}, or null. */
  public static Dist of(Node n) {
    return n != null && n.distribution() instanceof Outbound o ? o.dist : null;
  }

  Terms terms() { return local.node.terms(); }

  /** The endpoint to start this node's transport with. */
  public Endpoint endpoint() { return inbound; }

  /** Uses transport {@code t} (started with {@link #endpoint()}) and becomes the node's distribution. */
  public void install(Transport t) {
    connector.setTransport(t);
    local.node.setDistribution(outbound);
  }

  /** Closes every connection and the listener, then leaves the node without distribution. */
  public void close() {
    Transport t = connector.transport();
    if (t != null) t.close();
    local.node.setDistribution(null);
  }

  /** The node this protocol serves. */
  public Node node() { return local.node; }

  /** The transport. */
  public Transport transport() { return connector.transport(); }

  /** {@code (f peer-name)} after each lost connection (tasklet.node's local children). */
  public void onLost(IFn f) { onLost = f; }

  /** Adds an address to the book (start!'s :nodes). */
  public void addAddress(String node, String address) { connector.addresses.put(node, address); }

  /** Forgets {@code node}'s address (a local child that halted). */
  public void forgetAddress(String node) { connector.addresses.remove(node); }

  /** The open connection to {@code node}, or null. */
  public Connection connection(String node) { return connector.open(node); }

  /** The open connection to {@code node}, connected on demand when the caller may wait; null when unreachable. */
  public Connection reach(String node) { return connector.reach(node, Park.mayWait()); }

  /** Connects to {@code address}; the future fails with the library's error (see ConnectErrors). */
  public CompletableFuture<Connection> connect(String address) {
    return connector.transport().connect(address).handle((c, e) -> {
      if (e == null) return c;
      Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
      throw new java.util.concurrent.CompletionException(ConnectErrors.of(terms(), address, cause));
    });
  }

  /**
   * Waits up to {@code ms} for {@code f} without holding a worker (see
   * Park): the value, or throws its failure (a RuntimeException as is),
   * or the library's :timeout error with {@code what}.
   */
  public <T> T await(CompletableFuture<T> f, long ms, String what, Object... kvs) {
    if (!Park.awaitFuture(f, ms)) throw terms().error("timeout", what + " did not finish in time", kvs);
    Throwable e = Park.failureOf(f);
    if (e instanceof RuntimeException r) throw r;
    if (e != null) throw new RuntimeException(e);
    return Park.valueOf(f);
  }

  /** A future completed with the connection once {@code peer} has connected and sent its PEERS. */
  public CompletableFuture<Connection> expect(String peer) {
    return expected.computeIfAbsent(peer, k -> new CompletableFuture<>());
  }

  /** Forgets an {@link #expect} that will not be met (a child that did not start). */
  public void unexpect(String peer) { expected.remove(peer); }

  void connected(Connection c) {
    CompletableFuture<Connection> f = expected.remove(c.peerName());
    if (f != null) f.complete(c);
  }

  void lost(String peer, String reason) {
    IFn f = onLost;
    if (f != null) f.invoke(peer);
    CompletableFuture<String> g = gone.remove(peer);
    if (g != null) g.complete(reason);
  }

  /**
   * Closes the connection to {@code node} and waits (up to {@code ms}) until
   * its loss has been swept: links and monitors across it have fired.
   * False when it was not connected.
   */
  public boolean disconnect(String node, String reason, long ms) {
    Connection c = connector.open(node);
    if (c == null) return false;
    CompletableFuture<String> g = gone.computeIfAbsent(node, k -> new CompletableFuture<>());
    c.close(reason);
    Park.awaitFuture(g, ms);
    return true;
  }

  /** Sends request {@code op}/{@code arg} to {@code node} and returns the answer (see Requests). */
  public Object request(String node, Object op, Object arg) { return requests.request(node, op, arg); }

  /**
   * monitor_node: {@code watcher} gets [:nodedown node] when the connection
   * to it is lost, or now when it cannot be reached.
   */
  public void monitorNode(String node, Pid watcher) {
    Object down = codec.vector(codec.keyword("nodedown"), codec.keyword(node));
    if (connector.reach(node, Park.mayWait()) == null) {
      local.deliver(watcher, down);
      return;
    }
    watchers.add(node, watcher);
    // lost meanwhile: the sweep may have run before the monitor was added
    if (connector.open(node) == null && watchers.remove(node, watcher)) local.deliver(watcher, down);
  }

  /** Removes one monitorNode of {@code node} by {@code watcher}. */
  public void demonitorNode(String node, Pid watcher) { watchers.remove(node, watcher); }

  /** monitor_nodes: subscribes {@code watcher} to every node's up and down (or unsubscribes it). */
  public void monitorNodes(Pid watcher, boolean on) { watchers.subscribe(watcher, on); }

  /**
   * What this node holds about {@code peer}, for tests and tools: "links"
   * [[local remote]...], "mons" [[ref watcher dest]...], "watched" {ref
   * target}, "pending" [caller...], "node-mons" {watcher count} and
   * "address".
   */
  public Map<String, Object> tables(String peer) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("links", links.of(peer).stream().map(l -> List.of(l.local(), l.remote())).toList());
    m.put("mons", monitors.mineOf(peer).stream().map(List::of).toList());
    m.put("watched", monitors.watchedOf(peer));
    m.put("pending", requests.pendingOn(peer));
    m.put("node-mons", watchers.of(peer));
    m.put("address", connector.addresses.get(peer));
    return m;
  }

  /** The kernel Distribution this protocol installs (tests drive it directly). */
  public tasklet.kernel.Distribution distribution() { return outbound; }
}
