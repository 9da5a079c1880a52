"""Objects in an S3-compatible bucket (MinIO in deploy/, moto's server in tests).

`s3://ACCESS:SECRET@host:port/bucket?secure=false&region=us-east-1&public=https://cdn:9000`
- `secure` (default true): HTTPS to the endpoint.
- `region` (optional): skips the bucket-location lookup.
- `public` (optional): the endpoint clients reach, when it differs from the one the
  servers use (`minio:9000` inside Compose); presigned links are signed for that host.
"""
from __future__ import annotations

from datetime import timedelta
from typing import BinaryIO, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from .base import (
    CHUNK_SIZE,
    LimitedReader,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    content_disposition,
    validate_key,
    validate_prefix,
)

MIN_PART_SIZE = 5 * 1024**2  # S3's floor for every part but the last
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's ceiling
_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}
_TRUE = {"1", "true", "yes", "on"}


def _error(exc: S3Error, key: str) -> StorageError:
    if exc.code in _MISSING:
        return ObjectNotFound(f"no stored object {key!r}")
    return StorageError(f"object store error {exc.code}: {exc.message}")


# An upload of unknown length holds a few parts in memory at once: 8 MiB parts keep an API
# worker's growth per upload near 45 MB (16 MiB parts: 95-150 MB, measured by bench.upload).
PART_SIZE = 8 * 1024**2


class S3Storage(Storage):
    scheme = "s3"

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str | None = None,
        public_endpoint: str | None = None,
        default_ttl: int = 3600,
        part_size: int = PART_SIZE,
    ):
        self.bucket = bucket
        self.default_ttl = default_ttl
        self.part_size = max(part_size, MIN_PART_SIZE)
        self.client = Minio(endpoint, access_key, secret_key, secure=secure, region=region)
        self._ensure_bucket(region)
        self.signer = self.client
        if public_endpoint:
            public = urlsplit(public_endpoint)
            # The signer never talks to its host: it needs the region, known now.
            self.signer = Minio(
                public.netloc,
                access_key,
                secret_key,
                secure=public.scheme == "https",
                region=region or self.client._get_region(bucket),
            )

    @classmethod
    def from_url(cls, url: str, default_ttl: int = 3600) -> "S3Storage":
        parts = urlsplit(url)
        bucket = parts.path.strip("/")
        if not parts.hostname or not bucket or "/" in bucket:
            raise ValueError("storage URL must look like s3://KEY:SECRET@host:port/bucket")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        endpoint = parts.hostname + (f":{parts.port}" if parts.port else "")
        if ":" in parts.hostname:  # an IPv6 literal keeps its brackets
            endpoint = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        return cls(
            endpoint,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            bucket,
            secure=query.get("secure", "true").lower() in _TRUE,
            region=query.get("region") or None,
            public_endpoint=query.get("public") or None,
            default_ttl=default_ttl,
            part_size=int(query.get("part_size", PART_SIZE)),
        )

    def _ensure_bucket(self, region: str | None) -> None:
        try:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket, location=region)
        except S3Error as exc:
            # Two processes starting together both try to create it.
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StorageError(f"cannot create bucket {self.bucket!r}: {exc.code}") from exc

    # -- objects -----------------------------------------------------------------------
    def put_stream(self, key, stream: BinaryIO, content_type=None, length=None, limit=None) -> int:
        validate_key(key)
        reader = LimitedReader(stream, limit)
        known = length is not None and (limit is None or length <= limit)
        try:
            # Unknown length: minio reads part_size at a time and switches to a multipart
            # upload after the first full part, aborting it if the stream raises.
            self.client.put_object(
                self.bucket,
                key,
                reader,
                length=length if known else -1,
                content_type=content_type or "application/octet-stream",
                part_size=0 if known else self.part_size,
            )
        except S3Error as exc:
            raise _error(exc, key) from exc
        return reader.count

    def download_to(self, key, path) -> int:
        validate_key(key)
        try:
            self.client.fget_object(self.bucket, key, str(path))
        except S3Error as exc:
            raise _error(exc, key) from exc
        return self.size(key)

    def iter_range(self, key, start=0, end=None) -> Iterator[bytes]:
        validate_key(key)
        if end is not None and end <= start:
            self.size(key)  # still report a missing object
            return iter(())
        try:
            response = self.client.get_object(
                self.bucket, key, offset=start, length=0 if end is None else end - start
            )
        except S3Error as exc:
            raise _error(exc, key) from exc
        return self._chunks(response)

    @staticmethod
    def _chunks(response) -> Iterator[bytes]:
        try:
            yield from response.stream(CHUNK_SIZE)
        finally:
            response.close()
            response.release_conn()

    def _stat(self, key):
        validate_key(key)
        try:
            return self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            raise _error(exc, key) from exc

    def size(self, key) -> int:
        return self._stat(key).size

    def content_type(self, key) -> str:
        return self._stat(key).content_type or "application/octet-stream"

    def delete(self, key) -> None:
        validate_key(key)
        try:
            self.client.remove_object(self.bucket, key)
        except S3Error as exc:
            raise _error(exc, key) from exc

    def delete_prefix(self, prefix) -> int:
        prefix = validate_prefix(prefix)
        try:
            names = [
                obj.object_name
                for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            ]
            # remove_objects batches 1000 keys a request and is lazy: drain its errors.
            errors = list(self.client.remove_objects(self.bucket, (DeleteObject(n) for n in names)))
        except S3Error as exc:
            raise _error(exc, prefix) from exc
        if errors:
            raise StorageError(f"could not delete {len(errors)} objects under {prefix!r}")
        return len(names)

    def list_objects(self, prefix="") -> Iterator[StoredObject]:
        try:
            for obj in self.client.list_objects(self.bucket, prefix=validate_prefix(prefix)
                                                if prefix else None, recursive=True):
                yield StoredObject(obj.object_name, obj.size, obj.last_modified.timestamp())
        except S3Error as exc:
            raise _error(exc, prefix) from exc

    # -- links -------------------------------------------------------------------------
    def _expiry(self, ttl: int | None) -> timedelta:
        ttl = self.default_ttl if ttl is None else ttl
        return timedelta(seconds=min(max(ttl, 1), MAX_PRESIGN_SECONDS))

    def download_url(self, key, filename=None, ttl=None) -> str:
        validate_key(key)
        return self.signer.presigned_get_object(
            self.bucket,
            key,
            expires=self._expiry(ttl),
            response_headers={"response-content-disposition": content_disposition(filename)},
        )

    def upload_url(self, key, ttl=None) -> dict:
        validate_key(key)
        expires = self._expiry(ttl)
        return {
            "url": self.signer.presigned_put_object(self.bucket, key, expires=expires),
            "method": "PUT",
            "fields": {},
            "headers": {},
            "expires_in": int(expires.total_seconds()),
        }

    def close(self) -> None:
        self.client._http.clear()
