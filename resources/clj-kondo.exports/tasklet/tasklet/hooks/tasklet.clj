(ns hooks.tasklet
  "clj-kondo hooks for tasklet's macros (see config.edn beside this folder)."
  (:require [clj-kondo.hooks-api :as api]))

(defn- after-clause?
  "True for a node of the form (after ...)."
  [node]
  (and (api/list-node? node)
       (let [head (first (:children node))]
         (and (api/token-node? head)
              (= 'after (:value head))))))

(defn- syntax-error!
  [node message]
  (api/reg-finding! (assoc (meta node)
                           :message message
                           :type :tasklet/receive-syntax)))

(defn receive
  "Rewrites (receive pat body ... (after ms body*)?) to
  (receive nil pat body ... :else (do ms body*)), which config.edn's :lint-as
  has clj-kondo analyse as (clojure.core.match/match nil pat body ...).
  Reports a pattern without a body, and an after clause that is not last."
  [{:keys [node]}]
  (let [[head & args] (:children node)
        [clauses after] (if (and (odd? (count args)) (after-clause? (last args)))
                          [(butlast args) (last args)]
                          [args nil])
        pairs (partition-all 2 clauses)]
    (doseq [[pat] pairs
            :when (after-clause? pat)]
      (syntax-error! pat "receive: (after ms body*) must be the last clause"))
    (when (odd? (count clauses))
      (syntax-error! (last clauses)
                     "receive: this pattern has no body; clauses are pattern/body pairs, then optionally (after ms body*)"))
    (when (and after (< (count (:children after)) 2))
      (syntax-error! after "receive: after needs a timeout: (after ms body*)"))
    {:node (api/list-node
            (concat
             [head (api/token-node nil)]
             (mapcat (fn [[pat body]]
                       [pat (or body (api/token-node nil))])
                     pairs)
             (when after
               (let [[_after ms & body] (:children after)]
                 [(api/keyword-node :else)
                  (api/list-node (list* (api/token-node 'do)
                                        (or ms (api/token-node nil))
                                        body))]))))}))
