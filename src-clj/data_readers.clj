{tasklet/pid tasklet.core/read-pid
 tasklet/ref tasklet.core/read-ref}
