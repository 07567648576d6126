(ns tasklet.core.mailbox-limit-test
  "spawn-opt's mailbox limit (doc/reference.md §7): :kill ends the tasklet with
  [:mailbox-overflow n] and a crash report; :drop-newest drops and counts;
  process-info shows :max-mailbox and :dropped."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [tasklet.harness :refer [defsystest quiet-crash-reports]]
            [tasklet.core :as t :refer [! receive self spawn]]
            [tasklet.core.support :as s]))

(set! *warn-on-reflection* true)

(use-fixtures :once quiet-crash-reports)

(defn- await-down [ref] (receive [:DOWN ref :process _ r] r (after 5000 ::no-down)))

(defn- hold-then-drain
  "Takes no message until gate is delivered; then reports every message it
  had, in order; twice. (A promise, not a message, holds it: any message
  would count against its limit.)"
  [to gate1 gate2]
  (deref gate1 s/wait-ms nil)
  (! to [:had (loop [acc []] (receive m (recur (conj acc m)) (after 0 acc)))])
  (deref gate2 s/wait-ms nil)
  (! to [:had (loop [acc []] (receive m (recur (conj acc m)) (after 0 acc)))]))

;; :drop-newest keeps n messages and counts the rest as dropped; once messages are taken there is room again. (Normal mode only: the tasklet is held by promises, which the deterministic scheduler's one thread cannot wait on.)
(deftest drop-newest-counts-drops
  (let [me (self)
        g1 (promise)
        g2 (promise)
        p (t/spawn-opt {:max-mailbox 4 :on-max-mailbox :drop-newest :link true} hold-then-drain me g1 g2)]
    (dotimes [i 7] (! p [:m i]))
    (is (= {:max-mailbox 4 :dropped 3 :mailbox-size 4}
           (select-keys (t/process-info p) [:max-mailbox :dropped :mailbox-size])))
    (deliver g1 :go)
    (is (= [:had [[:m 0] [:m 1] [:m 2] [:m 3]]] (receive ([:had _] :as m) m (after 5000 nil))))
    (dotimes [i 5] (! p [:again i]))
    (deliver g2 :go)
    (is (= [:had [[:again 0] [:again 1] [:again 2] [:again 3]]] (receive ([:had _] :as m) m (after 5000 nil))))
    (is (= 4 (:dropped (t/process-info p) 4)) "4 in all, or already ended")))

;; :kill (the default) ends the tasklet with [:mailbox-overflow n] once more than n are queued; links get that reason; a trapping tasklet cannot catch it.
(defsystest kill-on-overflow
  (let [[p ref] (t/spawn-opt {:max-mailbox 5 :monitor true} (fn [] (t/trap-exit! true) (receive :never nil)))]
    (is (= 5 (:max-mailbox (t/process-info p))))
    (dotimes [i 5] (! p i))
    (is (some? (t/process-info p)) "at the limit: still alive")
    (! p :one-too-many)
    (is (= [:mailbox-overflow 5] (await-down ref)))))

;; the overflow kill leaves a crash report: an ex-info {:tasklet/error :mailbox-overflow :limit n}.
(deftest overflow-crash-report
  (let [reports (atom [])
        h (fn [{:keys [pid reason]}] (swap! reports conj [pid reason]))]
    (s/with-crash-handler h
      (fn []
        (let [[p ref] (t/spawn-opt {:max-mailbox 2 :on-max-mailbox :kill :monitor true} (fn [] (receive :never nil)))]
          (dotimes [i 3] (! p i))
          (is (= [:mailbox-overflow 2] (s/await-down ref)))
          (is (s/eventually #(seq @reports)) "the report follows the :DOWN")
          (is (= [p] (map first @reports)))
          (is (= {:tasklet/error :mailbox-overflow :limit 2 :pid p} (ex-data (second (first @reports))))))))))

;; without a limit nothing changes: process-info says nil and 0.
(deftest no-limit-by-default
  (let [p (spawn (fn [] (receive :stop nil)))]
    (is (= {:max-mailbox nil :dropped 0} (select-keys (t/process-info p) [:max-mailbox :dropped])))
    (! p :stop)))

;; bad options are refused with :badarg, and nothing is spawned.
(deftest spawn-opt-refuses-bad-options
  (doseq [o [{:max-mailbox 0} {:max-mailbox -1} {:max-mailbox 1.5} {:on-max-mailbox :block}
             {:maxmailbox 3} :not-a-map]]
    (is (= :badarg (s/error-kind (s/thrown-error (t/spawn-opt o (fn [])))))))
  (is (= :badarg (s/error-kind (s/thrown-error (t/spawn-opt {} :not-a-fn))))))
