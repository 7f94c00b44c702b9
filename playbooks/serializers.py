"""Input and output shapes of playbooks and response templates (API.md, "Playbooks and templates")."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import FreeText, ModelOutput, StrictInput
from crisis.models import Brand, Category, Severity

from . import placeholders
from .models import STEP_ROLES, ChecklistStep, Playbook, PlaybookStep, ResponseTemplate

TEXT_MAX = 20_000
MAX_STEP_SECONDS = 90 * 24 * 3600


@extend_schema_field({"type": "string", "nullable": True, "description": "brand slug; null = shared"})
class BrandSlugField(serializers.Field):
    """A brand the caller can see, given by slug; null means shared."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, default=None, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 50:
            raise serializers.ValidationError(_("Unknown brand."))
        brand = Brand.objects.filter(slug=data).first()
        if brand is None or not self.context["principal"].can_see(brand.pk):
            raise serializers.ValidationError(_("Unknown brand."))
        return brand

    def to_representation(self, value):
        return value.slug if value else None


class PlaybookStepInput(StrictInput):
    title = FreeText(max_length=300)
    description = FreeText(max_length=TEXT_MAX, required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=STEP_ROLES, default="responder")
    due_after_seconds = serializers.IntegerField(min_value=0, max_value=MAX_STEP_SECONDS)
    required = serializers.BooleanField(default=True)


class PlaybookInput(StrictInput):
    brand = BrandSlugField()
    name = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=Category.choices)
    severities = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.choices), max_length=4, default=list
    )
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default="en")
    steps = PlaybookStepInput(many=True, max_length=50)

    def validate_severities(self, value):
        return sorted(set(value), key=list(Severity.values).index)


class PlaybookStepOutput(serializers.ModelSerializer):
    class Meta:
        model = PlaybookStep
        fields = ["title", "description", "role", "due_after_seconds", "required"]
        read_only_fields = fields


class PlaybookOutput(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    steps = PlaybookStepOutput(many=True, read_only=True)

    class Meta:
        model = Playbook
        fields = [
            "id",
            "name",
            "category",
            "severities",
            "brand",
            "language",
            "steps",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ResponseTemplateInput(StrictInput):
    brand = BrandSlugField()
    name = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=Category.choices)
    language = serializers.ChoiceField(choices=settings.LANGUAGES)
    body = FreeText(max_length=TEXT_MAX)

    def validate_body(self, value):
        try:
            placeholders.placeholders(value)
        except placeholders.TemplateError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class ResponseTemplateOutput(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    placeholders = serializers.SerializerMethodField()

    class Meta:
        model = ResponseTemplate
        fields = ["id", "name", "category", "language", "brand", "body", "placeholders", "created_at"]
        read_only_fields = fields

    def get_placeholders(self, template) -> list[str]:
        return placeholders.placeholders(template.body)


class ChecklistStepOutput(ModelOutput):
    completed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ChecklistStep
        fields = [
            "id",
            "title",
            "description",
            "role",
            "required",
            "due_at",
            "completed_at",
            "completed_by",
            "note",
        ]
        read_only_fields = fields
