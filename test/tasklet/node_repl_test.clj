(ns tasklet.node-repl-test
  "Distribution as used from a REPL: node/start! on the default node keeps
  what runs (the calling thread's pid when something is tied to it, a
  supervisor it linked), and the small things a REPL user meets. Each test
  that changes the JVM's default node runs on a fresh plain thread and puts
  the old default node back after."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.core.support :as s :refer [recv in-thread]]
            [tasklet.impl.dist :as dist]
            [tasklet.node :as node]
            [tasklet.node.helpers :as h]
            [tasklet.supervisor :as sup])
  (:import (tasklet.kernel Node Pid)))

(set! *warn-on-reflection* true)

(def ^:private cookie "node-repl-test-cookie")

(defn- with-started-default-node
  "On a fresh plain thread: (before) with the JVM's default node as it is,
  then node/start! a default node named nm, then (after state handle) with
  before's result; returns after's result. The old default node is put back
  and the new one stopped whatever happens."
  [nm before after]
  (let [old (Node/local)]
    (in-thread
      (fn []
        (let [st (before)
              handle (node/start! {:name nm :cookie cookie :tick-ms 200})]
          (try (after st handle)
               (finally
                 (Node/setLocal old)
                 (node/stop! handle))))))))

;; A supervisor started with start-link from a thread (the REPL) survives node/start!: the thread keeps its pid, the
;; supervisor and its child stay under their registered name, (self) still receives, and new spawns belong to the new node.
(deftest start-keeps-the-callers-linked-supervisor
  (let [r (with-started-default-node :repl-keep
            (fn []
              (let [sp (sup/start-link {:strategy :one-for-one
                                        :children [{:id :w :start [h/wait-forever]}]}
                                       {:name :repl-keep-sup})]
                [(self) sp (sup/which-children sp)]))
            (fn [[me sp kids] _]
              (! (self) :still-mine)
              (let [out {:same-pid (= me (self))
                         :sup-alive (t/alive? sp)
                         :name-kept (= sp (t/whereis :repl-keep-sup))
                         :self-node (node/self-node)
                         :kids-same (= kids (sup/which-children sp))
                         :kid-alive (t/alive? (:pid (first kids)))
                         :receives (receive :still-mine :got (after 1000 :nothing))
                         :new-spawns-on (.-node ^tasklet.kernel.Pid (t/spawn h/wait-forever))}]
                (t/unlink sp)
                (t/exit sp :kill)
                out)))]
    (is (= {:same-pid true :sup-alive true :name-kept true :self-node :repl-keep :kids-same true :kid-alive true :receives :got
            :new-spawns-on "repl-keep"}
           r))))

;; A thread whose pid has nothing tied to it gets a pid of the new node, and the old one ends quietly.
(deftest start-gives-an-idle-caller-a-pid-of-the-new-node
  (let [[old-alive? nd] (with-started-default-node :repl-idle
                          (fn [] (self))
                          (fn [old _] [(t/alive? old) (.-node (self))]))]
    (is (false? old-alive?))
    (is (= "repl-idle" nd))))

;; The crash handler is the JVM's: one installed before node/start! gets the reports of the new node's tasklets.
(deftest crash-handler-survives-start
  (s/capturing-crashes
    (fn [reports]
      (let [[nd reason] (with-started-default-node :repl-crash
                          (fn [] nil)
                          (fn [_ _]
                            (let [[p ref] (t/spawn-monitor (fn [] (throw (ex-info "after start" {}))))]
                              [(.-node ^tasklet.kernel.Pid p) (s/await-down ref)])))]
        (is (= "repl-crash" nd))
        (is (= [[:repl-crash reason]] (map (juxt :node :reason) (s/reports-settle reports 1))))))))

;; process-info of a pid on a node that cannot be reached throws the request's :not-connected, naming process-info and
;; the node (the live remote case is in node-child-test).
(deftest remote-process-info-unreachable
  (h/with-nodes [a (h/start-node cookie :repl-pi {})]
    (let [e (node/run-on a (fn [] (s/thrown-error (t/process-info (Pid. "repl-nowhere" 1 1)))))]
      (is (= :not-connected (:tasklet/error (ex-data e))))
      (is (re-find #"^process-info of #tasklet/pid \[:repl-nowhere 1 1\] asks node repl-nowhere: " (ex-message e))))))

;; A node connecting to one with its own name hears about names, not cookies or TLS; a port in use is said once.
(deftest clash-and-bind-errors-say-what-is-wrong
  (h/with-nodes [a (h/start-node cookie :repl-clash {})]
    (let [e (node/run-on a (fn [] (s/thrown-error (node/connect! (:address a)))))]
      (is (= :not-connected (:tasklet/error (ex-data e))))
      (is (re-find #"called :repl-clash like this one" (ex-message e)))
      (is (re-find #"unique :name$" (ex-message e)))
      (is (not (re-find #"(?i)tls|cookie" (ex-message e)))))
    (let [port (Long/parseLong (second (re-find #":(\d+)$" (:address a))))
          e (s/thrown-error (h/start-node cookie :repl-bind {:port port}))]
      (is (= :badarg (:tasklet/error (ex-data e))))
      (is (= 1 (count (re-seq #"cannot listen" (ex-message e)))) (ex-message e)))))

;; A thread that kept its pid across node/start! (a pid of no node) can still ask another node
;; (spawn-on: the request names a pid of this node, and the peer, which accepts messages only from
;; the sending node's own pids, keeps the connection). Its link, monitor or exit to a pid over the wire
;; is refused on this side with :badarg rather than closing the connection there.
(deftest kept-pid-asks-other-nodes-and-is-refused-signals
  (let [r (with-started-default-node :repl-kept
            (fn [] (let [sp (sup/start-link {:strategy :one-for-one :children []})] sp))
            (fn [sp handle]
              (let [other (node/start! {:name :repl-other :cookie cookie :default? false :tick-ms 200})]
                (try
                  (node/connect! (:address other))
                  (let [p (t/spawn-on :repl-other #'h/wait-forever)
                        st (dist/state-of (:node handle))
                        err (fn [f] (try (f) :no-error
                                         (catch clojure.lang.ExceptionInfo e (:tasklet/error (ex-data e)))))
                        out {:kept (= "nonode" (.-node ^Pid (self)))
                             :spawned-on (.-node ^Pid p)
                             :still-connected (boolean (some #{:repl-other} (node/nodes)))
                             :wire-link (err #(.link (.distribution (dist/dist st)) (self) p))
                             :wire-monitor (err #(.monitor (.distribution (dist/dist st)) (self) (t/make-ref) p))
                             :wire-exit (err #(.exit (.distribution (dist/dist st)) (self) p :bye false))}]
                    (node/run-on other t/exit p :kill)
                    out)
                  (finally
                    (t/unlink sp)
                    (t/exit sp :kill)
                    (node/stop! other))))))]
    (is (= {:kept true :spawned-on "repl-other" :still-connected true
            :wire-link :badarg :wire-monitor :badarg :wire-exit :badarg}
           r))))
