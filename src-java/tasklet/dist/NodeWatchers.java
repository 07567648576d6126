package tasklet.dist;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import tasklet.kernel.Node;
import tasklet.kernel.NodeTable;
import tasklet.kernel.Pid;
import tasklet.kernel.Tasklet;

/**
 * Node monitors: Erlang's monitor_node (a count per watcher and node, each
 * one [:nodedown n] when the connection to n is lost) and net_kernel's
 * monitor_nodes (subscribers of every node's [:nodeup n] and [:nodedown n]).
 * Any thread.
 */
final class NodeWatchers {
  private final Codec codec;
  private final Local local;
  private final ConcurrentHashMap<String, ConcurrentHashMap<Pid, Integer>> perNode = new ConcurrentHashMap<>();
  private final Set<Pid> everyNode = ConcurrentHashMap.newKeySet();

  NodeWatchers(Codec codec, Local local) {
    this.codec = codec;
    this.local = local;
  }

  /** One more monitor of {@code node} by {@code watcher}. */
  void add(String node, Pid watcher) {
    perNode.computeIfAbsent(node, k -> new ConcurrentHashMap<>()).merge(watcher, 1, Integer::sum);
  }

  /** One monitor of {@code node} by {@code watcher} fewer; true when there was one. */
  boolean remove(String node, Pid watcher) {
    ConcurrentHashMap<Pid, Integer> m = perNode.get(node);
    if (m == null) return false;
    boolean[] had = new boolean[1];
    m.computeIfPresent(watcher, (k, n) -> {
      had[0] = true;
      return n > 1 ? n - 1 : null;
    });
    return had[0];
  }

  /**
   * Subscribes (or with {@code on} false unsubscribes) {@code watcher} to
   * every node's up and down; subscribers that have ended are dropped now.
   */
  void subscribe(Pid watcher, boolean on) {
    everyNode.removeIf(p -> {
      Tasklet t = NodeTable.resolve(p);
      return t == null || !t.isAlive();
    });
    if (on) everyNode.add(watcher);
    else everyNode.remove(watcher);
  }

  /** The connection to {@code node} is up: [:nodeup n] to every subscriber. */
  void up(String node) {
    Object msg = codec.vector(codec.keyword("nodeup"), codec.keyword(node));
    for (Pid w : everyNode) local.deliver(w, msg);
  }

  /** The connection to {@code node} is lost: its monitors fire, then the subscribers hear of it. */
  void down(String node) {
    Object msg = codec.vector(codec.keyword("nodedown"), codec.keyword(node));
    ConcurrentHashMap<Pid, Integer> m = perNode.remove(node);
    if (m != null) {
      for (Map.Entry<Pid, Integer> e : m.entrySet()) {
        for (int i = 0; i < e.getValue(); i++) local.deliver(e.getKey(), msg);
      }
    }
    for (Pid w : everyNode) local.deliver(w, msg);
  }

  /** The monitors of {@code node} now, watcher -> count (tests and tools). */
  Map<Pid, Integer> of(String node) {
    ConcurrentHashMap<Pid, Integer> m = perNode.get(node);
    return m == null ? Map.of() : Map.copyOf(m);
  }
}
