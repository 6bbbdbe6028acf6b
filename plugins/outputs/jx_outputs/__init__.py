"""Standard result outputs for jx (绩效应用): the ranking (排行榜) and, as they come, the others."""
