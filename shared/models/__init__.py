"""SQLAlchemy models, one module per aggregate."""
from .base import Base, iso, new_id, utcnow
from .edit import (Edit, EditCollaborator, RenderCacheEntry, RenderCacheSource, RenderJob,
                   RenderPiece)
from .finish import RenderFinish, RenderTotal
from .media import GENERATED_VIDEO, FILE_TABLES, Asset, VideoFile, file_table
from .project import Project, Prompt, Script
from .user import ApiKey, User, generate_key, hash_key

__all__ = [
    "GENERATED_VIDEO", "FILE_TABLES", "ApiKey", "Asset", "Base", "Edit", "EditCollaborator",
    "Project", "Prompt", "RenderCacheEntry", "RenderCacheSource", "RenderFinish", "RenderJob",
    "RenderTotal", "RenderPiece", "Script", "User", "VideoFile", "generate_key", "hash_key",
    "file_table", "iso", "new_id", "utcnow",
]
