print("posture-bench: not yet")
