"""What a user asks for, assembled from the layers below: write a run, check against a
baseline, test determinism, keep pytest baselines, replay on several ranks.
"""
