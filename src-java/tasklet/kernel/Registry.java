package tasklet.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A node's name registry (Erlang's register/whereis): names to pids, at most
 * one name per tasklet, freed when the tasklet ends. Nodes may share one
 * (see {@link NodeOptions.Builder#shareRegistryWith}).
 *
 * <p>Invariant: a name maps to a pid iff that tasklet's
 * {@code Extra.registeredName} is the name, except in the moment between a
 * tasklet's DONE and its terminate removing the name (a whereis then finds a
 * dead pid, as Erlang's may). A registration takes the tasklet's monitor, so
 * it cannot slip in after the tasklet's end read its name. The switch points
 * of the deterministic scheduler are the node's (see {@link Node#whereis}).
 * Every method: any thread.
 */
public final class Registry {
  private final ConcurrentHashMap<Object, Pid> names = new ConcurrentHashMap<>();
  private final Terms terms;

  Registry(Terms terms) { this.terms = terms; }

  /** Register {@code pid} as {@code name}. Throws :badarg when taken, already named, dead or not of {@code node}. */
  void register(Node node, Object name, Pid pid) {
    Tasklet t = NodeTable.resolve(pid);
    if (t == null || t.node.registry != this) {
      throw terms.error("badarg", "cannot register " + name + ": " + pid
          + " is not a live tasklet of " + node, "name", name, "pid", pid);
    }
    synchronized (t) {
      if (t.state == Tasklet.DONE) {
        throw terms.error("badarg", "cannot register " + name + ": " + pid + " is dead", "name", name, "pid", pid);
      }
      if (t.ex().registeredName != null) {
        throw terms.error("badarg", "cannot register " + name + ": " + pid + " is already registered as "
            + t.ex().registeredName + "; unregister it first", "name", name, "pid", pid);
      }
      Pid other = names.putIfAbsent(name, pid);
      if (other != null) {
        throw terms.error("badarg", "cannot register " + name + ": the name is taken by " + other
            + "; unregister it first or pick another name", "name", name, "pid", pid);
      }
      t.extra().registeredName = name;
    }
  }

  /** Remove {@code name}; returns the pid it named. Throws :badarg when nobody has it. */
  Pid unregister(Object name) {
    Pid p = names.remove(name);
    if (p == null) {
      throw terms.error("badarg", "cannot unregister " + name + ": no tasklet has that name", "name", name);
    }
    Tasklet t = NodeTable.resolve(p);
    if (t != null) {
      synchronized (t) { if (name.equals(t.ex().registeredName)) t.extra().registeredName = null; }
    }
    return p;
  }

  /** The ending tasklet {@code t} frees its name. */
  void ended(Object name, Pid pid) { names.remove(name, pid); }

  /** The pid registered as {@code name}, or null. */
  public Pid whereis(Object name) { return names.get(name); }

  /** All registered names. */
  public List<Object> registered() { return new ArrayList<>(names.keySet()); }
}
