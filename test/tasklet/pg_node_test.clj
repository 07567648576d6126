(ns tasklet.pg-node-test
  "tasklet.pg across nodes (OTP pg's overlay network): a parent in-JVM node
  and a child JVM (one :once fixture: a JVM takes seconds to start), plus an
  in-JVM node that connects late. Members joined on any node show on the
  others; a member that ends and every member of a killed node (kill -9)
  leave; a scope that started before its node connected is discovered on
  nodeup (tasklet.node/monitor-nodes). Every wait is bounded; views are
  awaited through pg/monitor, never by sleeping."
  (:require [clojure.test :refer [deftest is use-fixtures]]
            [tasklet.core :as t :refer [! receive self]]
            [tasklet.node :as node]
            [tasklet.node.helpers :as nh]
            [tasklet.pg :as pg]
            [tasklet.pg.helpers :as ph]))

(set! *warn-on-reflection* true)

(def ^:private cookie "pg-node-test")
(def ^:private scope ::scope)

(def ^:dynamic *parent* nil)
(def ^:dynamic *child* nil)

(defn- with-nodes [f]
  (let [p (node/start! {:name :pgp :cookie cookie :default? false :workers 2 :tick-ms 1000})]
    (try
      (let [[c] (binding [node/*run-on-timeout-ms* 120000]
                  (node/run-on p node/start-local-nodes! 1 {:timeout-ms 90000}))]
        (binding [*parent* p *child* c] (f)))
      (finally (node/stop! p)))))

(use-fixtures :once with-nodes)

(defn- view-becomes
  "This node's members of :g once they are `expected` (within 15 s)."
  [expected]
  (ph/await-members scope :g expected 15000 (self))
  (receive [:members m] m (after 20000 ::timeout)))

(defn- remote-view
  "Node n's members of :g once they are `expected` (within 15 s)."
  [n expected]
  (t/spawn-on n #'ph/await-members scope :g expected 15000 (self))
  (receive [:members m] m (after 20000 ::timeout)))

(defn- late-node
  "An in-JVM node whose scope starts (with two members) before it connects to
  this node: found on nodeup; its members leave when it stops."
  [all]
  (node/monitor-nodes true)
  (let [n3 (nh/start-node cookie :pgn3 {})
        stopped (volatile! false)
        addr (node/address)]
    (try
      (node/run-on n3 (fn []
                        (pg/start scope)
                        (pg/join scope :g [(t/spawn ph/idle) (t/spawn ph/idle)])))
      (node/run-on n3 #(node/connect! addr))
      (is (= :nodeup (receive [:nodeup :pgn3] :nodeup (after 10000 ::none))))
      (let [late (node/run-on n3 #(set (pg/local-members scope :g)))
            with-late (into all late)]
        (is (= 2 (count late)))
        (is (= with-late (view-becomes with-late)) "discovered on nodeup")
        (node/stop! n3)
        (vreset! stopped true)
        (is (= :nodedown (receive [:nodedown :pgn3] :nodedown (after 10000 ::none))))
        (is (= all (view-becomes all)) "the lost node's members left"))
      (finally
        (when-not @stopped (node/stop! n3))
        (node/monitor-nodes false)))))

(defn- check-groups
  "Run on the parent with scope running there."
  []
  (let [c1 *child*
        _ (t/spawn-on c1 #'ph/join-members scope :g 3 (self))
        [_ on-c1] (receive [:joined n ps] [n ps] (after 30000 [:none []]))
        p0 (t/spawn ph/idle)
        _ (pg/join scope :g p0)
        all (conj (set on-c1) p0)]
    (is (= 3 (count on-c1)))
    (is (= all (view-becomes all)) "the parent sees the child's members")
    (is (= all (remote-view c1 all)) "the child sees the parent's and its own")
    (is (= [p0] (pg/local-members scope :g)))
    (let [gone (first on-c1)
          all (disj all gone)]
      (! gone :stop)
      (is (= all (view-becomes all)) "a member that ended left")
      (is (= all (remote-view c1 all)))
      (late-node all)
      (let [^Process proc (get (node/local-node-processes) c1)
            all (apply disj all on-c1)]
        (.destroyForcibly proc)
        (is (= #{p0} all))
        (is (= all (view-becomes all)) "the killed node's members left")
        (is (= [:g] (pg/which-groups scope)))))))

;; members of two JVMs and a late in-JVM node meet in one group; a member that
;; ends leaves it everywhere; a late node is discovered on nodeup and its
;; members leave when it is lost; a kill -9'd node's members leave.
(deftest groups-across-nodes
  (binding [node/*run-on-timeout-ms* 90000]
    (node/run-on
      *parent*
      (fn []
        (let [sp (pg/start scope)]
          (try (check-groups)
               (finally
                 (let [m (t/monitor sp)]
                   (t/exit sp :kill)
                   (receive [:DOWN m :process _ _] nil (after 5000 nil))))))))))
