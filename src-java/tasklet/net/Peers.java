package tasklet.net;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The registry that keeps one live connection per peer name, and the connect calls
 * waiting for a peer's connection to open.
 *
 * <p>Who decides: for each pair of nodes, the node whose name sorts lower decides which
 * connection between them lives ({@link #claim}); the other node takes the decider's
 * ACCEPT as final ({@link #admit}). A claim loses only to an open connection to the
 * same peer incarnation that was claimed earlier, so when both nodes connect at once
 * the first connection the decider authenticates wins and the other is dropped before
 * either side reports it. A connection to a different incarnation (the peer restarted)
 * replaces the old one, which is then closed and reported lost.
 *
 * <p>All methods: any thread (they synchronise on this object; none calls out while
 * holding the lock).
 */
final class Peers {
  /** The decider's verdict: {@code rejected}, or kept and replacing {@code previous}. */
  record Claim(boolean rejected, ChannelConnection previous) {}

  private final Map<String, ChannelConnection> live = new HashMap<>(); // claimed or open
  private final Map<String, List<CompletableFuture<Connection>>> waiters = new HashMap<>();
  private final Map<ChannelConnection, Boolean> established = new HashMap<>(); // reported ones
  private Throwable closed; // set by failWaiters: later waiters fail at once

  /** Decider side: keep {@code c} unless an open one to the same incarnation exists. */
  synchronized Claim claim(ChannelConnection c) {
    ChannelConnection old = live.get(c.peerName());
    if (old != null && old.isOpen() && old.peerIncarnation() == c.peerIncarnation()) {
      return new Claim(true, old);
    }
    live.put(c.peerName(), c);
    return new Claim(false, old);
  }

  /** Non-decider side: the decider kept {@code c}; returns the one it replaces, or null. */
  synchronized ChannelConnection admit(ChannelConnection c) {
    return live.put(c.peerName(), c);
  }

  /** Marks {@code c} as reported to the endpoint and completes its waiters. */
  void opened(ChannelConnection c) {
    List<CompletableFuture<Connection>> ws;
    synchronized (this) {
      established.put(c, Boolean.TRUE);
      ws = waiters.remove(c.peerName());
    }
    if (ws != null) {
      for (CompletableFuture<Connection> w : ws) {
        w.complete(c);
      }
    }
  }

  /** Forgets {@code c} (it closed). */
  synchronized void remove(ChannelConnection c) {
    live.remove(c.peerName(), c);
    established.remove(c);
  }

  /** The open, reported connection to {@code name}, or null. */
  synchronized ChannelConnection get(String name) {
    ChannelConnection c = live.get(name);
    return c != null && established.containsKey(c) && c.isOpen() ? c : null;
  }

  /** The open, reported connection whose peer advertises {@code address}, or null. */
  synchronized ChannelConnection byAddress(String address) {
    for (ChannelConnection c : established.keySet()) {
      if (c.peerAddress().equals(address) && c.isOpen()) {
        return c;
      }
    }
    return null;
  }

  /** All open, reported connections. */
  synchronized List<Connection> all() {
    List<Connection> out = new ArrayList<>();
    for (ChannelConnection c : established.keySet()) {
      if (c.isOpen()) {
        out.add(c);
      }
    }
    return out;
  }

  /** Completes {@code f} with the connection to {@code name} once one is open. */
  void await(String name, CompletableFuture<Connection> f) {
    ChannelConnection c;
    Throwable failure;
    synchronized (this) {
      c = get(name);
      failure = closed;
      if (c == null && failure == null) {
        waiters.computeIfAbsent(name, k -> new ArrayList<>()).add(f);
      }
    }
    if (c != null) {
      f.complete(c);
    } else if (failure != null) {
      f.completeExceptionally(failure);
    }
  }

  /** Stops {@code f} waiting for {@code name}. */
  synchronized void forget(String name, CompletableFuture<Connection> f) {
    List<CompletableFuture<Connection>> ws = waiters.get(name);
    if (ws != null && ws.remove(f) && ws.isEmpty()) {
      waiters.remove(name);
    }
  }

  /** Fails every waiter, now and later, with {@code cause} (the transport is closing). */
  void failWaiters(Throwable cause) {
    List<CompletableFuture<Connection>> all = new ArrayList<>();
    synchronized (this) {
      closed = cause;
      waiters.values().forEach(all::addAll);
      waiters.clear();
    }
    for (CompletableFuture<Connection> w : all) {
      w.completeExceptionally(cause);
    }
  }
}
