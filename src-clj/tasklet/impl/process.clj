(ns ^:no-doc tasklet.impl.process
  "The kernel facts that the library's own behaviours (tasklet.server,
  tasklet.statem, tasklet.supervisor, tasklet.task, tasklet.sys) need beyond
  tasklet.core's public API, so that those namespaces import nothing from
  tasklet.kernel. Internal: not part of the contract for users (doc/api.md
  does not list it), but stable for the library's own namespaces: a change
  here is made in all of them at once.

  Everything acts on the calling tasklet or on plain values; nothing here
  blocks."
  (:require [tasklet.core])   ; installs the kernel's terms before a node is made
  (:import [java.util.concurrent.atomic AtomicBoolean]
           [tasklet.kernel Aliases Node NodeTable Pid Ref Tasklet TaskletExit]))

(set! *warn-on-reflection* true)

;; ---------------------------------------------------------------------------
;; Exits: how a tasklet ends by (exit reason) or by an exit signal

(defn exit?
  "True when x is the exception that ends a tasklet (tasklet.core/exit, an
  exit signal acted on). A behaviour that catches Throwable around user code
  rethrows it first unless it means to turn the exit into its own stop."
  [x]
  (instance? TaskletExit x))

(defn exit-reason
  "The reason carried by exit exception e (see `exit?`)."
  [e]
  (.-reason ^TaskletExit e))

(defn exit-signalled?
  "True when the calling tasklet is ending because of an exit signal from
  another tasklet (or (exit (self) reason)), rather than its own (exit
  reason): OTP's behaviours run no :terminate for such a signal."
  []
  (if-let [t (Node/currentTasklet)]
    (.exitSignalled ^Tasklet t)
    false))

(defn set-crash-context!
  "What the calling tasklet's crash report carries besides its exception (a
  map; a server's last message and state, already truncated)."
  [m]
  (when-let [t (Node/currentTasklet)]
    (.setCrashContext ^Tasklet t m)))

;; ---------------------------------------------------------------------------
;; Identity and places

(defn ref?
  "True when x is a ref (tasklet.core/make-ref, a monitor ref, an alias)."
  [x]
  (instance? Ref x))

(defn local-pid?
  "True when x is a pid of a node that lives in this JVM (any of them, this
  incarnation), whose tasklet the kernel can look at directly."
  [x]
  (and (instance? Pid x) (NodeTable/isLocal x)))

(defn node-name
  "The calling tasklet's node's name, a string (as a Pid's node is)."
  ^String []
  (.-name (Node/current)))

(defn this-node
  "The calling tasklet's node, as an opaque value to key per-node tables by
  (equal only to itself: a node started again under the same name is
  another)."
  []
  (Node/current))

(defn on-this-node?
  "True when pid belongs to the calling tasklet's node (its name and
  incarnation)."
  [pid]
  (let [^Pid p pid
        n (Node/current)]
    (and (= (.-node p) (.-name n)) (== (.-incarnation p) (.-incarnation n)))))

(defn pid-node
  "The name of pid's node, a keyword."
  [pid]
  (keyword (.-node ^Pid pid)))

(defn running?
  "True while the tasklet of pid, a pid of a node in this JVM, has not ended.
  Unlike tasklet.core/alive?, not ordered after the caller's signals and no
  switch point: a cheap look from any thread."
  [pid]
  (boolean (some-> (NodeTable/resolve pid) .isAlive)))

;; ---------------------------------------------------------------------------
;; Sends and the mailbox

(defn send-alias
  "Send msg through alias a (tasklet.core/! does the same, and returns msg):
  true when it was delivered here or handed to distribution for another
  node; false when a is of this node and inactive (the message is dropped)."
  [a msg]
  (Aliases/send ^Ref a msg))

(defn unmark-mailbox!
  "Drop the caller's tasklet.core/mark-mailbox! mark without a receive (the
  request it was made for failed before it was sent); returns nil."
  []
  (.endScan (.mailbox (tasklet.core/current-tasklet)))
  nil)

(defn claim!
  "Atomically set one-shot flag gate (a java.util.concurrent.atomic.AtomicBoolean,
  as callers of the earlier reply protocol made it) and return true, or
  return false when it was already set."
  [gate]
  (.compareAndSet ^AtomicBoolean gate false true))
