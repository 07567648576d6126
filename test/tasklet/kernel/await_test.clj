(ns tasklet.kernel.await-test
  "tasklet.kernel.Await: park until a callback fires."
  (:require [clojure.test :refer [deftest is testing]]
            [tasklet.core :as t :refer [spawn ! receive self schedule]]
            [tasklet.test :as tt])
  (:import [java.util.concurrent CompletableFuture]
           [java.util.function Consumer]
           [tasklet.kernel Await]))

(set! *warn-on-reflection* true)

(defn- fire-later
  "An arm function that runs the callback from another thread after ms."
  [ms]
  (reify Consumer
    (accept [_ fire] (future (Thread/sleep (long ms)) (.run ^Runnable fire)))))

(def ^:private never (reify Consumer (accept [_ _] nil)))

;; A tasklet parks until the callback fires; messages that arrive meanwhile neither end the wait nor get lost, and nothing is left in its mailbox.
(deftest a-tasklet-waits-for-the-callback
  (is (= [true [:before :during] :empty]
         (schedule (fn []
                     (let [me (self)]
                       (! me :before)
                       (future (Thread/sleep 20) (! me :during))
                       (let [fired (Await/callback (fire-later 100) 5000)]
                         [fired
                          [(receive m m (after 0 nil)) (receive m m (after 1000 nil))]
                          (receive m m (after 50 :empty))])))))))

;; The wait ends after its timeout, on the node's clock (virtual under tasklet.test: no real waiting), with false; a callback fired later is harmless.
(deftest the-wait-times-out
  (when (tt/available?)
    (let [{:keys [result virtual-ms]} (tt/run-schedule {} #(Await/callback never 30000))]
      (is (false? result))
      (is (<= 30000 (long virtual-ms)))))
  (is (= [false :still-here]
         (schedule (fn []
                     (let [fire (promise)
                           r (Await/callback (reify Consumer (accept [_ f] (deliver fire f))) 20)]
                       (.run ^Runnable @fire)
                       (! (self) :still-here)
                       [r (receive m m (after 100 nil))]))))))

;; An exit signal ends a tasklet that waits, as at any suspension point.
(deftest an-exit-signal-ends-the-wait
  (let [[p r] (t/spawn-monitor #(Await/callback never 60000))]
    (t/exit p :stop)
    (is (= :stop (receive [:DOWN r :process _ reason] reason (after 5000 :timeout))))))

;; A future, completed on another thread, is awaited by a tasklet and by a thread without one.
(deftest futures
  (let [f (CompletableFuture.)]
    (future (Thread/sleep 50) (.complete f :v))
    (is (true? (schedule #(Await/future f 5000))))
    (is (= :v (.getNow f nil))))
  (let [f (CompletableFuture.)
        waiter (future (Await/future f 5000))]   ; a fresh thread: no tasklet
    (Thread/sleep 20)
    (.completeExceptionally f (ex-info "no" {}))
    (is (true? (deref waiter 5000 :hung)) "an exceptional completion ends the wait too"))
  (is (false? (deref (future (Await/future (CompletableFuture.) 10)) 5000 :hung))))
