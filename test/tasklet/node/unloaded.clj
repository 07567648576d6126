(ns tasklet.node.unloaded
  "A namespace no test loads: tasklet.node-hostile-test checks that a peer's
  spawn-on cannot make a node with :spawn-require? false load it.")

(defn f
  "Does nothing."
  []
  nil)
