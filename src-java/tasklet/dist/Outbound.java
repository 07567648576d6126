package tasklet.dist;

import java.util.List;
import tasklet.kernel.Distribution;
import tasklet.kernel.Links;
import tasklet.kernel.Monitors;
import tasklet.kernel.Pid;
import tasklet.kernel.Ref;
import tasklet.kernel.Tasklet;
import tasklet.net.Connection;

/**
 * The kernel's {@link Distribution} for one node: every send, link, exit
 * signal and monitor the kernel routes to another node (of this JVM or not)
 * becomes a frame on the connection to that node, made on demand. A pid or
 * alias of an earlier incarnation of that node is dead: a send to it is
 * dropped, a link or monitor of it gives :noproc; an unreachable node gives
 * :noconnection. Runs on the calling tasklet's thread, which may wait (see
 * {@link Park}): connect on demand and back-pressure.
 */
final class Outbound implements Distribution {
  final Dist dist;

  Outbound(Dist dist) { this.dist = dist; }

  private Connection reach(String node, boolean mayWait) { return dist.connector.reach(node, mayWait); }

  private boolean send(Connection c, int type, Object... fields) {
    return dist.connector.send(c, type, dist.codec.encode(fields));
  }

  @Override public void send(Pid to, Object msg) {
    Connection c = reach(to.node, Park.mayWait());
    if (c == null || c.peerIncarnation() != to.incarnation) return;   // else an earlier incarnation: dead
    Object[] down = dist.codec.downParts(msg);
    byte[] b;
    try {
      b = dist.codec.encode(new Object[] {to, msg});
    } catch (RuntimeException e) {
      // a DOWN sent while its target ends must cross whatever its reason holds
      if (down == null || Park.mayWait()) throw e;
      b = dist.codec.encode(new Object[] {to,
          dist.terms().downMessage((Ref) down[0], down[1], dist.codec.standIn(down[2]))});
    }
    // the kernel sends a local target's DOWN to a remote watcher as a
    // message; it is one when the peer's monitor is in the watched table
    boolean monitorDown = down != null && dist.monitors.takeWatched(to.node, (Ref) down[0]) != null;
    dist.connector.send(c, monitorDown ? DistFrames.DOWN : DistFrames.SEND, b);
  }

  @Override public void sendAlias(Ref to, Object msg) {
    Connection c = reach(to.node, Park.mayWait());
    if (c != null && c.peerIncarnation() == to.incarnation) send(c, DistFrames.SEND, to, msg);
  }

  @Override public void sendNamed(Object name, String node, Object msg) {
    Connection c = reach(node, Park.mayWait());
    if (c == null) {
      Codec k = dist.codec;
      throw dist.terms().error("not-connected", "cannot send to " + k.printable(k.vector(name, k.keyword(node)))
          + ": node " + node + " is not connected and cannot be reached; connect! to it first",
          "node", k.keyword(node), "name", name);
    }
    send(c, DistFrames.SEND_NAMED, name, msg);
  }

  @Override public void exit(Pid from, Pid to, Object reason, boolean linked) {
    if (!linked) checkOwnSender(from, "exit");
    else dist.links.remove(to.node, from, to);
    Connection c = reach(to.node, !linked && Park.mayWait());
    if (c == null) return;
    byte[] b;
    try {
      b = dist.codec.encode(new Object[] {from, to, reason, linked});
    } catch (RuntimeException e) {
      b = dist.codec.encode(new Object[] {from, to, dist.codec.standIn(reason), linked});
    }
    dist.connector.send(c, DistFrames.EXIT, b);
  }

  @Override public void link(Pid from, Pid to) {
    checkOwnSender(from, "link");
    Connection c = reach(to.node, Park.mayWait());
    if (c == null) {
      remoteExit(from, to, dist.terms().noconnection());
    } else if (c.peerIncarnation() != to.incarnation) {
      remoteExit(from, to, dist.terms().noproc());
    } else {
      dist.links.add(to.node, from, to);
      if (!send(c, DistFrames.LINK, from, to)) {
        dist.links.remove(to.node, from, to);
        remoteExit(from, to, dist.terms().noconnection());
      }
    }
  }

  @Override public void unlink(Pid from, Pid to) {
    dist.links.remove(to.node, from, to);
    Connection c = dist.connector.open(to.node);
    if (c != null) send(c, DistFrames.UNLINK, from, to);
  }

  @Override public void monitor(Pid watcher, Ref ref, Object dest) {
    checkOwnSender(watcher, "monitor");
    String node = destNode(dest);
    Connection c = reach(node, Park.mayWait());
    if (c == null) {
      fire(watcher, ref, dest, dist.terms().noconnection());
    } else if (dest instanceof Pid p && c.peerIncarnation() != p.incarnation) {
      fire(watcher, ref, dest, dist.terms().noproc());
    } else {
      dist.monitors.addMine(node, ref, watcher, dest);
      if (!send(c, DistFrames.MONITOR, watcher, ref, dest)) {
        dist.monitors.takeMine(node, ref);
        fire(watcher, ref, dest, dist.terms().noconnection());
      }
    }
  }

  @Override public void demonitor(Pid watcher, Ref ref, Object dest) {
    String node = destNode(dest);
    // the peer is told only while the monitor is still in place there
    if (dist.monitors.takeMine(node, ref) != null) {
      Connection c = dist.connector.open(node);
      if (c != null) send(c, DistFrames.DEMONITOR, watcher, ref, dest);
    }
  }

  @Override public boolean alive(Pid pid) {
    Connection c = reach(pid.node, Park.mayWait());
    if (c == null || c.peerIncarnation() != pid.incarnation) return false;
    try {
      return Boolean.TRUE.equals(dist.requests.request(pid.node, dist.codec.keyword("alive"), pid));
    } catch (RuntimeException e) {
      return false;   // lost, or no answer in time: as for an unreachable node
    }
  }

  /** Local {@code local}, linked to remote {@code remote}, gets exit signal {@code reason} if the link is still there. */
  void remoteExit(Pid local, Pid remote, Object reason) {
    Tasklet t = dist.local.tasklet(local);
    if (t != null) Links.remoteExit(t, remote, reason);
  }

  /** The watcher's monitor {@code ref} of {@code dest} fires with {@code reason}, if it still has it. */
  void fire(Pid watcher, Ref ref, Object dest, Object reason) {
    Tasklet t = dist.local.tasklet(watcher);
    if (t != null) Monitors.fire(t, ref, dist.terms().downMessage(ref, dest, reason));
  }

  /** The node of a monitor's dest: a pid's, or the second of [name node] (a keyword or a string). */
  static String destNode(Object dest) {
    if (dest instanceof Pid p) return p.node;
    Object n = ((List<?>) dest).get(1);
    String s = String.valueOf(n);
    return n instanceof String ? s : s.startsWith(":") ? s.substring(1) : s;   // a keyword prints as :name
  }

  /**
   * Peers accept a signal only from a pid of the node that sends it (and
   * close the connection otherwise): a caller whose pid is not of this node
   * (a thread that kept its pid across node/start!) gets an error here.
   */
  private void checkOwnSender(Pid from, String what) {
    if (!dist.local.own(from)) {
      String me = dist.local.node.name;
      throw dist.terms().error("badarg", what + " from " + from + ", a pid that is not of node " + me
          + " (a thread's pid kept across node/start!): other nodes accept signals only from this node's"
          + " pids; do it from a tasklet (spawn, schedule)", "pid", from);
    }
  }
}
