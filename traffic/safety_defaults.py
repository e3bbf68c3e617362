"""Default safety limits of signal plans, in one place that imports nothing.

``traffic.plan_validation.ValidationRules`` and ``traffic.pedestrians.PedestrianRules`` take their
defaults from here, and so does the command line's ``--help`` without importing the network model.
"""

DEFAULT_MIN_GREEN_S = 5.0
DEFAULT_MIN_YELLOW_S = 3.0
DEFAULT_MIN_ALL_RED_S = 0.0
"""Many field programs (and SUMO's generated ones) run no all-red; agencies that require one set it."""
DEFAULT_MAX_CYCLE_S = 300.0
HCM_WALK_S = 7.0
"""HCM's WALK interval shown before the pedestrian clearance."""
HCM_WALKING_SPEED_M_S = 1.2
"""HCM's walking speed for the pedestrian clearance."""
