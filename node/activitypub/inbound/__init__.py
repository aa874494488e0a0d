"""What the node does with an activity from another server: `registry.py` picks one handler by (activity type,
object type); each activity type has its module here, sharing only `context.py`."""
