(ns tasklet.core.properties-test
  "test.check properties for doc/reference.md §1-2 on one node:
  1. per-sender FIFO with several concurrent senders, nothing lost or duplicated;
  2. selective receive against a model (a persistent queue), in the shape of
     Clojure's transducers.clj tests: generated actions with a printable :desc;
  3. random link graphs with trap-exit flags: end one tasklet, and exactly the
     tasklets the exit rules say end, with the reasons they say, while the
     trapping ones get exactly the [:EXIT from reason] messages they say.
  The runs are concurrent, so a failure may not replay identically when
  test.check shrinks it; the printed input still shows the case."
  (:require [clojure.test :refer [deftest is use-fixtures]]
            [clojure.test.check.clojure-test :refer [defspec]]
            [clojure.test.check.generators :as gen]
            [clojure.test.check.properties :as prop]
            [tasklet.core :as t :refer [spawn spawn-monitor ! receive self exit monitor
                                        trap-exit! link schedule]]
            [tasklet.core.support :as s :refer [recv]])
  (:import [clojure.lang PersistentQueue]))

(set! *warn-on-reflection* true)

(use-fixtures :once s/quiet-crashes)

;; ===========================================================================
;; 1. Per-sender FIFO

(def ^:private gen-senders
  "Each sender: [kind message-count]; kind :tasklet or :thread (a future)."
  (gen/vector (gen/tuple (gen/elements [:tasklet :thread]) (gen/choose 0 80)) 1 6))

(defn- fifo-receiver
  "Takes total [:m sid i] messages, either as they come (:any) or sender by
  sender with the sender id matched by value (:by-sender); then, on
  [tg :report], reports what it took and any [:m ...] left."
  [owner tg mode counts]
  (let [total (reduce + counts)
        taken (case mode
                :any (vec (repeatedly total #(receive [:m sid i] [sid i])))
                :by-sender (vec (for [[sid n] (map-indexed vector counts)
                                      _ (range n)]
                                  (receive [:m sid i] [sid i]))))]
    (receive [tg :report] :ok)
    (! owner [tg :taken taken (loop [extra []]
                                (receive [:m sid i] (recur (conj extra [sid i]))
                                         (after 0 extra)))])))

(defn- run-fifo [senders mode]
  (let [me (self)
        tg (s/tag)
        counts (mapv second senders)
        receiver (spawn fifo-receiver me tg mode counts)
        gate (promise)
        started (doall
                  (for [[sid [kind n]] (map-indexed vector senders)]
                    (let [send-all (fn [] (dotimes [i n] (! receiver [:m sid i])))]
                      (case kind
                        :tasklet (spawn (fn [] (receive [tg :go] (send-all)) (! me [tg :sent sid])))
                        :thread (future (s/wait gate) (send-all) (! me [tg :sent sid]))))))]
    (deliver gate :go)
    (doseq [p started :when (t/pid? p)] (! p [tg :go]))
    (dotimes [_ (count senders)] (recv [tg :sent _] :ok))
    ;; every message is in the receiver's mailbox now; :report comes after them
    (! receiver [tg :report])
    (recv [tg :taken taken extra] {:taken taken :extra extra})))

(defn- fifo-ok? [senders {:keys [taken extra]}]
  (let [by-sender (group-by first taken)]
    (and (= [] extra)
         (= (reduce + (map second senders)) (count taken))
         (every? (fn [[sid [_ n]]] (= (range n) (map second (by-sender sid))))
                 (map-indexed vector senders)))))

;; Per-sender FIFO: with 1-6 concurrent senders (tasklets and plain threads), the receiver gets each sender's messages in the order sent, none lost, none duplicated.
(defspec per-sender-fifo-nothing-lost-or-duplicated 60
  (prop/for-all [senders gen-senders
                 mode (gen/elements [:any :by-sender])]
    (fifo-ok? senders (run-fifo senders mode))))

;; ===========================================================================
;; 2. Selective receive against a model

(def ^:private gen-value
  (gen/one-of [(gen/tuple (gen/return :a) (gen/choose 0 3))
               (gen/tuple (gen/return :b) (gen/choose 0 3))
               (gen/choose 0 5)
               (gen/fmap (fn [n] {:k n}) (gen/choose 0 3))
               (gen/elements [:c :d nil "s"])]))

(defn- even-int? [x] (and (integer? x) (even? x)))
(defn- boom [_] (throw (RuntimeException. "guard throws")))

(def ^:private patterns
  "Pattern name -> model predicate; receive-with below has the matching clauses."
  {:a (fn [_ m] (and (vector? m) (= 2 (count m)) (= :a (m 0))))
   :b (fn [_ m] (and (vector? m) (= 2 (count m)) (= :b (m 0))))
   :even (fn [_ m] (even-int? m))
   :map (fn [_ m] (and (map? m) (contains? m :k)))
   :any (fn [_ _] true)
   :c-or-d (fn [_ m] (contains? #{:c :d} m))
   :boom-then-b (fn [_ m] (and (vector? m) (= 2 (count m)) (= :b (m 0))))
   :b-or-even (fn [_ m] (or (and (vector? m) (= 2 (count m)) (= :b (m 0))) (even-int? m)))
   :local-a (fn [n m] (= [:a n] m))})

(defn- receive-with
  "The real selective receive for pattern pat (n: the local for :local-a),
  with after ms (nil: wait for ever). Returns the message or ::timeout."
  [pat n ms]
  (case pat
    :a (receive [:a x] [:a x] (after ms ::timeout))
    :b (receive [:b x] [:b x] (after ms ::timeout))
    :even (receive (x :guard even-int?) x (after ms ::timeout))
    :map (receive {:k x} {:k x} (after ms ::timeout))
    :any (receive m m (after ms ::timeout))
    :c-or-d (receive :c :c :d :d (after ms ::timeout))
    :boom-then-b (receive (_ :guard boom) ::guard-ran [:b x] [:b x] (after ms ::timeout))
    :b-or-even (receive [:b x] [:b x] (x :guard even-int?) x (after ms ::timeout))
    :local-a (receive [:a n] [:a n] (after ms ::timeout))))

(def ^:private gen-action
  (gen/one-of
    [(gen/fmap (fn [v] {:op :send :v v :desc (str "send " (pr-str v))}) gen-value)
     (gen/fmap (fn [v] {:op :send :v v :desc (str "send " (pr-str v))}) gen-value)
     (gen/fmap (fn [[op pat n]]
                 {:op op :pat pat :n n :desc (str (name op) " " (name pat) (when (= pat :local-a) (str " n=" n)))})
               (gen/tuple (gen/elements [:receive :receive-after-0 :receive-after-1])
                          (gen/elements (keys patterns))
                          (gen/choose 0 3)))]))

(defn- model-take
  "[result queue'] for taking the oldest message matching pred from queue q."
  [q pred]
  (let [v (vec q)
        i (first (keep-indexed (fn [i m] (when (pred m) i)) v))]
    (if i
      [(v i) (into PersistentQueue/EMPTY (concat (subvec v 0 i) (subvec v (inc i))))]
      [::timeout q])))

(defn- run-model
  "Results of the receive actions and the final mailbox, by the model. A
  plain :receive (no after) is only run where the model has a match, else
  it becomes a :receive-after-0; the real run takes the same decision."
  [actions]
  (loop [q PersistentQueue/EMPTY [a & more :as as] actions results []]
    (if (empty? as)
      {:results results :left (vec q)}
      (if (= :send (:op a))
        (recur (conj q (:v a)) more results)
        (let [pred (partial (patterns (:pat a)) (:n a))
              [r q'] (model-take q pred)]
          (recur q' more (conj results [(:desc a) r])))))))

(defn- mailbox-worker
  "Runs receive actions that arrive as [tg :op action ms], among the data
  messages, and answers each; on [tg :drain] sends back what is left."
  [owner tg]
  (loop []
    (receive
      [tg :op a ms] (do (! owner [tg :result (receive-with (:pat a) (:n a) ms)]) (recur))
      [tg :drain] (! owner [tg :left (loop [acc []] (receive m (recur (conj acc m)) (after 0 acc)))]))))

(defn- run-real
  "The same actions against a tasklet's mailbox: this caller sends the data
  messages and, for each receive action, asks the tasklet to run it."
  [actions]
  (let [me (self)
        tg (s/tag)
        w (spawn mailbox-worker me tg)]
    (loop [q PersistentQueue/EMPTY [a & more :as as] actions results []]
      (if (empty? as)
        (do (! w [tg :drain])
            {:results results :left (recv [tg :left l] l)})
        (if (= :send (:op a))
          (do (! w (:v a)) (recur (conj q (:v a)) more results))
          (let [pred (partial (patterns (:pat a)) (:n a))
                [_ q'] (model-take q pred)
                ms (case (:op a)
                     :receive (if (identical? q q') 0 nil) ; nil: wait for ever
                     :receive-after-0 0
                     :receive-after-1 1)]
            (! w [tg :op a ms])
            (recur q' more (conj results [(:desc a) (recv [tg :result r] r)]))))))))

;; Selective receive agrees with a persistent-queue model: oldest matching message first, clauses in order, throwing guards, locals by value, after 0/1/none; the rest stays in order.
(defspec selective-receive-matches-model 100
  (prop/for-all [actions (gen/vector gen-action 0 40)]
    (= (run-model actions) (run-real actions))))

;; ===========================================================================
;; 3. Random link graphs

(def ^:private gen-graph
  (gen/let [n (gen/choose 2 7)
            edges (gen/vector (gen/tuple (gen/choose 0 (dec n)) (gen/choose 0 (dec n))) 0 12)
            traps (gen/vector gen/boolean n)
            victim (gen/choose 0 (dec n))
            how (gen/elements [:signal :self])
            reason (gen/elements [:normal :kill :shutdown :boom {:why :map} :throwable])]
    {:n n
     :edges (into (sorted-set) (keep (fn [[a b]] (when (not= a b) [(min a b) (max a b)]))) edges)
     :traps traps :victim victim :how how :reason reason}))

(defn- expected-outcome
  "By doc/reference.md §2: {:dead {id reason} :trapped #{[id from reason]}}; from is a
  node id or :runner (the tasklet that sends the exit signal)."
  [{:keys [n edges traps victim how reason]}]
  (let [neighbours (fn [x] (for [[a b] edges :when (or (= a x) (= b x))] (if (= a x) b a)))
        trap? (fn [x] (traps x))
        [dead0 trapped0] (case how
                           :self [{victim reason} #{}]
                           :signal (cond
                                     (= :kill reason) [{victim :killed} #{}]
                                     (trap? victim) [{} #{[victim :runner reason]}]
                                     (= :normal reason) [{} #{}]
                                     :else [{victim reason} #{}]))]
    (loop [dead dead0 trapped trapped0 queue (vec (keys dead0))]
      (if (empty? queue)
        {:dead dead :trapped trapped}
        (let [x (first queue)
              r (dead x)
              [dead trapped new]
              (reduce (fn [[dead trapped new] y]
                        (cond
                          (contains? dead y) [dead trapped new]
                          (trap? y) [dead (conj trapped [y x r]) new]
                          (= :normal r) [dead trapped new]
                          :else [(assoc dead y r) trapped (conj new y)]))
                      [dead trapped []]
                      (neighbours x))]
          (recur dead trapped (into (subvec queue 1) new)))))))

(defn- graph-node
  "A node of the graph: sets trap-exit, links to its peers, says ready; then
  forwards [:EXIT ...] messages, answers pings, and dies when told."
  [owner tg id]
  (receive [tg :setup trap? peers] (do (trap-exit! trap?) (doseq [p peers] (link p))))
  (! owner [tg :ready id])
  (loop []
    (receive
      [:EXIT from r] (do (! owner [tg :trapped id from r]) (recur))
      [tg :ping t2] (do (! owner [t2 :pong id]) (recur))
      [tg :die :return] :returned
      [tg :die :exit r] (exit r)
      [tg :die :throw e] (throw e))))

(defn- run-graph
  "Runs the case for real (in the calling tasklet, the runner); returns the
  outcome in the same shape as expected-outcome."
  [{:keys [n edges traps victim how reason]}]
  (let [me (self)
        tg (s/tag)
        thrown (ex-info "graph crash" {})
        real-reason (if (= :throwable reason) thrown reason)
        pids (mapv #(spawn graph-node me tg %) (range n))
        refs (mapv monitor pids)
        id-of (into {me :runner} (map-indexed (fn [i p] [p i]) pids))
        token (fn [r] (if (identical? r thrown) :throwable r))]
    (doseq [i (range n)]
      (! (pids i) [tg :setup (traps i) (for [[a b] edges :when (= a i)] (pids b))]))
    (dotimes [_ n] (recv [tg :ready _] :ok))
    (case how
      :self (! (pids victim) (cond (= :normal reason) [tg :die :return]
                                   (= :throwable reason) [tg :die :throw thrown]
                                   :else [tg :die :exit real-reason]))
      :signal (exit (pids victim) real-reason))
    (let [expected-dead (set (keys (:dead (expected-outcome {:n n :edges edges :traps traps
                                                              :victim victim :how how :reason reason}))))
          ;; the DOWNs the rules predict (a missing one shows as :no-down)
          downs (into {} (for [i expected-dead]
                           (let [ref (refs i)]
                             [i (receive [:DOWN ref :process _ r] (token r)
                                         (after s/wait-ms :no-down))])))
          ;; the others must still answer; one that died shows its reason
          others (into {} (for [i (range n) :when (not (expected-dead i))]
                            (let [t2 (s/tag)
                                  ref (refs i)]
                              (! (pids i) [tg :ping t2])
                              [i (receive [t2 :pong _] :alive
                                          [:DOWN ref :process _ r] (token r)
                                          (after s/wait-ms :no-answer))])))
          trapped (loop [acc #{}]
                    (receive [tg :trapped id from r] (recur (conj acc [id (id-of from from) (token r)]))
                             (after 0 acc)))]
      ;; clean up: end the survivors and wait for them
      (doseq [[i v] others :when (= :alive v)] (exit (pids i) :kill))
      (doseq [[i v] others :when (= :alive v)]
        (let [ref (refs i)] (receive [:DOWN ref & _] :ok (after s/wait-ms nil))))
      {:dead (merge downs (into {} (remove (comp #{:alive} val)) others))
       :trapped trapped})))

;; Random link graphs: ending one tasklet (by exit/2 from outside, or by itself) ends exactly the tasklets §2 says, with the reasons it says; trapping ones get exactly the predicted [:EXIT from reason].
(defspec link-graph-exits-follow-the-rules 100
  (prop/for-all [g gen-graph]
    (= (expected-outcome g) (schedule run-graph g))))

;; ===========================================================================
;; The checkers themselves: each can fail (a property whose checker cannot
;; fail would pass whatever the library does).

(defn- send-a [v] {:op :send :v v :desc (str "send " (pr-str v))})
(defn- recv-a [op pat & [n]] {:op op :pat pat :n n :desc (str (name op) " " (name pat))})

;; The FIFO checker accepts a correct run and rejects reordered, lost, duplicated and extra messages.
(deftest fifo-checker-can-fail
  (let [senders [[:tasklet 2] [:thread 1]]
        good {:taken [[0 0] [1 0] [0 1]] :extra []}]
    (is (fifo-ok? senders good))
    (is (not (fifo-ok? senders {:taken [[0 1] [1 0] [0 0]] :extra []})) "reordered")
    (is (not (fifo-ok? senders {:taken [[0 0] [1 0]] :extra []})) "lost")
    (is (not (fifo-ok? senders {:taken [[0 0] [1 0] [0 1] [0 1]] :extra []})) "duplicated")
    (is (not (fifo-ok? senders (assoc good :extra [[0 1]]))) "extra left over")))

;; The mailbox model gives the answers worked out by hand (oldest match first, the rest stays in order), and so does the real mailbox.
(deftest mailbox-model-known-answers
  (let [actions [(send-a [:b 1]) (send-a [:a 1]) (send-a 2) (send-a :c)
                 (recv-a :receive :a) (recv-a :receive :b-or-even) (recv-a :receive-after-0 :a)
                 (recv-a :receive-after-1 :boom-then-b) (recv-a :receive :local-a 1)]
        expected {:results [["receive a" [:a 1]] ["receive b-or-even" [:b 1]]
                            ["receive-after-0 a" ::timeout] ["receive-after-1 boom-then-b" ::timeout]
                            ["receive local-a" ::timeout]]
                  :left [2 :c]}]
    (is (= expected (run-model actions)))
    (is (= expected (run-real actions)))))

;; The exit-rules model gives the answers worked out by hand on small graphs.
(deftest graph-model-known-answers
  (let [g (fn [n edges traps victim how reason]
            (expected-outcome {:n n :edges (set edges) :traps traps :victim victim :how how :reason reason}))]
    (is (= {:dead {0 :boom 1 :boom 2 :boom} :trapped #{}}
           (g 3 [[0 1] [1 2]] [false false false] 0 :self :boom)) "a crash runs down a chain")
    (is (= {:dead {0 :boom} :trapped #{[1 0 :boom]}}
           (g 3 [[0 1] [1 2]] [false true false] 0 :self :boom)) "a trapping link stops it")
    (is (= {:dead {0 :normal} :trapped #{}}
           (g 2 [[0 1]] [false false] 0 :self :normal)) ":normal does not propagate")
    (is (= {:dead {0 :killed 1 :killed} :trapped #{}}
           (g 2 [[0 1]] [true false] 0 :signal :kill)) ":kill is untrappable, links get :killed")
    (is (= {:dead {} :trapped #{[0 :runner :shutdown]}}
           (g 2 [[0 1]] [true false] 0 :signal :shutdown)) "a trapping target keeps running")
    (is (= {:dead {} :trapped #{}}
           (g 2 [[0 1]] [false false] 0 :signal :normal)) ":normal from another is ignored")
    (is (= {:dead {0 :kill} :trapped #{[1 0 :kill]}}
           (g 2 [[0 1]] [false true] 0 :self :kill)) "an own :kill reason is trappable by links")))
