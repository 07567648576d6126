package tasklet.kernel;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A node's adopted threads: a plain thread (the REPL, a future, -main) that
 * asks for its pid gets a tasklet on the node's thread strand, with a
 * mailbox, kept in {@link Node#CURRENT}. Such a tasklet ends when its thread
 * is gone (housekeeping notices) or by {@link #forget}.
 *
 * <p>Housekeeping runs on the WorkerPool's watchdog on the continuation
 * strand; without a pool (the virtual-thread strand) a daemon of its own
 * runs it every 100 ms until the node is shut down.
 */
final class ThreadTasklets {
  private final Node node;
  private final Set<Tasklet> adopted = ConcurrentHashMap.newKeySet();

  ThreadTasklets(Node node) { this.node = node; }

  /** The calling thread's new tasklet on {@code node}, with pid serial {@code serial}. Calling thread. */
  Tasklet adopt(long serial) {
    Tasklet t = new Tasklet(node, serial, node.threadStrand, null,
        "thread " + Thread.currentThread().getName(), null);
    node.threadStrand.start(t);
    node.processes.add(t);
    adopted.add(t);
    Node.CURRENT.set(t);
    return t;
  }

  /** {@code t}, a thread tasklet of this node, ended. Its thread (or housekeeping). */
  void ended(Tasklet t) {
    adopted.remove(t);
    if (Node.CURRENT.get() == t) Node.CURRENT.remove();
  }

  /**
   * Detach the calling plain thread from its thread tasklet if nothing could
   * tell the difference: it has no links, no monitors either way, no
   * registered name, no tracer, does not trap exits and has no messages. Then
   * that tasklet ends (:normal, signalling nobody) and the thread's next
   * {@code self} adopts a fresh pid on the then-default node; returns true.
   * Otherwise the thread keeps its pid and everything tied to it (a
   * supervisor it started with start-link, say) and this returns false. Used
   * by {@code tasklet.node/start!} so the REPL thread gets a pid of the named
   * node when that loses nothing. True for a thread with no live tasklet;
   * false for a tasklet on a continuation or virtual strand. The calling
   * thread only.
   */
  static boolean forget() {
    Tasklet t = Node.CURRENT.get();
    if (t == null || t.state == Tasklet.DONE) return true;
    if (!t.isThreadTasklet()) return false;
    synchronized (t) {
      // held across the end, so no link or monitor can be made in between;
      // an idle tasklet's end takes no other lock (it has nobody to signal)
      Extra e = t.ex();
      if (e.links != null && !e.links.isEmpty()
          || e.monitors != null && !e.monitors.isEmpty()
          || e.monitoredBy != null && !e.monitoredBy.isEmpty()
          || e.registeredName != null || e.tracer != null || t.trapExit || t.size() > 0) {
        return false;
      }
      t.node.terminate(t, t.node.terms.normal());  // also clears CURRENT
    }
    return true;
  }

  /** Ends thread tasklets whose thread is gone. Watchdog or housekeeper thread. */
  void housekeeping() {
    for (Tasklet t : adopted) {
      if (t.carrier instanceof Thread th && !th.isAlive()) {
        adopted.remove(t);
        Signals.terminate(t, node.terms.normal());
      }
    }
  }

  /** Without a WorkerPool (virtual strand) no watchdog runs housekeeping: a daemon does. */
  void startHousekeeper() {
    Thread h = new Thread(() -> {
      while (!node.stopped) {
        try {
          Thread.sleep(100);
          housekeeping();
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "tasklet-housekeeper-" + node.name);
    h.setDaemon(true);
    h.start();
  }
}
