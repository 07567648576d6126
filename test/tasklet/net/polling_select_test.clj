(ns tasklet.net.polling-select-test
  "The event loop's wait (PollingSelectStrategy): it polls without blocking
  for its window after the last event, then blocks; an event or a task
  restarts the window. Time is a manual clock."
  (:require [clojure.test :refer [deftest is]])
  (:import [io.netty.channel SelectStrategy]
           [io.netty.util IntSupplier]
           [java.util.function LongSupplier]
           [tasklet.net PollingSelectStrategy]))

(set! *warn-on-reflection* true)

(deftest polls-for-its-window-then-blocks
  (let [now (atom 0)
        ready (atom 0)
        s (PollingSelectStrategy. 200000 (reify LongSupplier (getAsLong [_] @now)))
        sel (reify IntSupplier (get [_] @ready))
        step (fn [tasks?] (.calculateStrategy s sel tasks?))]
    (is (= SelectStrategy/CONTINUE (step false)) "within the window: poll again")
    (reset! now 199999)
    (is (= SelectStrategy/CONTINUE (step false)))
    (reset! now 200000)
    (is (= SelectStrategy/SELECT (step false)) "the window is over: block")
    (reset! ready 3)
    (is (= 3 (step false)) "ready sockets are handled")
    (reset! ready 0)
    (reset! now 350000)
    (is (= SelectStrategy/CONTINUE (step false)) "and restart the window")
    (reset! now 500000)
    (is (= 0 (step true)) "tasks: handled now, without blocking, and restart it")
    (reset! now 699999)
    (is (= SelectStrategy/CONTINUE (step false)))
    (reset! now 700000)
    (is (= SelectStrategy/SELECT (step false)))))

(deftest zero-window-blocks-at-once
  (let [s (PollingSelectStrategy. 0 (reify LongSupplier (getAsLong [_] 5)))]
    (is (= SelectStrategy/SELECT (.calculateStrategy s (reify IntSupplier (get [_] 0)) false)))))
