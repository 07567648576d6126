package tasklet.kernel;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The JVM's live nodes by name, its default node ({@link Node#local()}), and
 * what the Clojure layer installs for every node (terms, context, the JVM's
 * crash handler).
 * A node joins when it is made and leaves when it is shut down; while it is
 * live no other node may take its name (two nodes of one name would make
 * every pid of that name ambiguous).
 *
 * <p>It also resolves a pid to its tasklet when the pid names a node of this
 * JVM: the kernel's in-JVM shortcut between nodes (see {@link #resolve}).
 * Every method: any thread.
 */
public final class NodeTable {
  private NodeTable() {}

  private static final ConcurrentHashMap<String, Node> LIVE = new ConcurrentHashMap<>();
  private static volatile Node local;
  static volatile Terms terms = Terms.PLAIN;          // for nodes made from now on
  static volatile Context context = Context.NONE;     // for nodes made from now on
  static volatile CrashHandler crashHandler = CrashHandler.LOG;   // of every node without its own

  /** Install the Clojure layer's terms and context for nodes made from now on. */
  static synchronized void install(Terms t, Context c) {
    terms = t;
    context = c;
  }

  /**
   * Replace the JVM's crash handler, which every node without its own uses
   * (nodes made later too); null: the logging one. Returns the old one.
   */
  public static synchronized CrashHandler setCrashHandler(CrashHandler h) {
    CrashHandler old = crashHandler;
    crashHandler = h != null ? h : CrashHandler.LOG;
    return old;
  }

  /**
   * Throws when a live node is called {@code name}: checked before a node
   * starts its threads, and again atomically by {@link #add}.
   */
  static void checkFree(String name, Terms terms) {
    Node old = LIVE.get(name);
    if (old != null) throw taken(name, old, terms);
  }

  /** Adds {@code n}; throws (as {@link #checkFree}) when its name is taken by a live node. */
  static void add(Node n) {
    Node old = LIVE.putIfAbsent(n.name, n);
    if (old != null) throw taken(n.name, old, n.terms);
  }

  private static RuntimeException taken(String name, Node old, Terms terms) {
    return terms.error("badarg", "a node called " + name + " already runs in this JVM (" + old
        + "); stop it first (tasklet.node/stop!, or Node.shutdown) or pick another name", "name", name);
  }

  /** Removes {@code n} if it is the live node of its name. */
  static void remove(Node n) { LIVE.remove(n.name, n); }

  /**
   * {@code n} gives up its name but keeps running, so that a new node (a new
   * incarnation) may take the name: what distribution does when the default
   * node is started again under the name it had. Pids of {@code n} made here
   * still reach their tasklets (they carry them); pids of it read or received
   * later no longer resolve.
   */
  public static void release(Node n) { remove(n); }

  /** The live node called {@code name}, or null. */
  public static Node named(String name) { return LIVE.get(name); }

  /** This JVM's default node, made (as "nonode") on first use. */
  static Node local() {
    Node n = local;
    if (n == null) {
      synchronized (NodeTable.class) {
        n = local;
        if (n == null) local = n = new Node(NodeOptions.builder("nonode").build());
      }
    }
    return n;
  }

  /** Replace the default node (distribution gives it a name). */
  static void setLocal(Node n) {
    synchronized (NodeTable.class) { local = n; }
  }

  /**
   * The live tasklet of {@code pid} when it is of a node in this JVM, else
   * null (a tasklet found DONE may still be returned once). A pid made here
   * carries its tasklet until it ends; one read or received looks it up in
   * its node's process table once and caches it while it lives.
   */
  public static Tasklet resolve(Pid pid) {
    Tasklet t = pid.tasklet;
    if (t != null) {
      if (t.state == Tasklet.DONE) pid.tasklet = null;   // a copy of the pid retains no dead tasklet
      return t;
    }
    Node n = LIVE.get(pid.node);
    if (n == null || n.incarnation != pid.incarnation) return null;
    t = n.processes.get(pid.serial);
    if (t != null) pid.tasklet = t;
    return t;
  }

  /** Whether {@code pid} names a tasklet of a live node of this JVM (dead or alive). */
  public static boolean isLocal(Pid pid) {
    if (pid.tasklet != null) return true;
    Node n = LIVE.get(pid.node);
    return n != null && n.incarnation == pid.incarnation;
  }
}
