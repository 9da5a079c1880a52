"""Request and response models, one module per resource group.

Query/path models are named ...Query/...Path: `api.errors.request_part` relies on it to say
where a validation error is.
"""
from .media import (  # noqa: F401
    AnalysisOut, AssetCreate, AssetPath, AssetStatus, EventsHeader, Pieces, ProjectAssetPath, VideoFileCreate, VideoFileOut,
    VideoFileList, VideoFilePath, VideoFileQuery, VideoSearch,
)
from .projects import (  # noqa: F401
    AssetCreated, AssetList, AssetPageQuery, AssetOut, Deleted, ErrorOut, PageQuery, ProjectList, PromptList, ProjectCreate, ProjectListQuery, ProjectOut, ProjectPath,
    PromptCreate, PromptOut, PromptPath, ScriptTemplateList, UserOut, ValidationErrorOut,
)
from .sharing import (  # noqa: F401
    CollaboratorAdd, CollaboratorList, CollaboratorOut, CollaboratorPath, CollaboratorRemoved,
    ScriptCreate, ScriptList, ScriptOut, ScriptPath,
)
