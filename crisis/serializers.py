"""Input and output shapes of the brands, members, keys and auth endpoints."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import Brand, BrandKey, Membership, Role


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class BrandOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Brand
        fields = ["slug", "name", "language", "created_at", "role"]

    def get_role(self, brand) -> str | None:
        principal = self.context.get("principal")
        return principal.role_in(brand.pk) if principal else None


class BrandInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=200)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default="en")

    def validate_slug(self, value):
        if Brand.objects.filter(slug=value).exists():
            raise serializers.ValidationError(_("A brand with this slug already exists."))
        return value


class MemberOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ["username", "email", "role", "is_executive", "created_at"]


class MemberInput(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    is_executive = serializers.BooleanField(required=False, default=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    password = serializers.CharField(
        required=False, allow_blank=True, max_length=4096, trim_whitespace=False,
        write_only=True,
    )


class KeyInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class KeyOutput(serializers.ModelSerializer):
    class Meta:
        model = BrandKey
        fields = ["id", "name", "prefix", "created_at"]


class IssuedKeyOutput(KeyOutput):
    """The one response that carries the plain key."""

    key = serializers.CharField()

    class Meta(KeyOutput.Meta):
        fields = [*KeyOutput.Meta.fields, "key"]


class StrictInput(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo must not pass silently)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError({name[:100]: [_("Unknown field.")] for name in unknown[:20]})
        return value
