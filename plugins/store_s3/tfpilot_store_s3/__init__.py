"""tfpilot plugin ``store_s3``: the store ``s3``, everything in S3 with conditional writes.

* :mod:`tfpilot_store_s3.plugin`: the hook implementation (registration ``s3``).
* :mod:`tfpilot_store_s3.settings`: the ``[plugins.store_s3]`` settings model.
* :mod:`tfpilot_store_s3.store`: :class:`~tfpilot_store_s3.store.S3Store` (imports boto3).
* :mod:`tfpilot_store_s3.keys`: the object layout and the listing index keys.
* :mod:`tfpilot_store_s3.testing`: moto's S3 server and a fault-injecting proxy, for tests.
"""
